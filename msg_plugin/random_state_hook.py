# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Save the random states in checkpoints so that a resume continues exactly."""
import random
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmagic.registry import HOOKS

CKPT_KEY = 'random_states'


def get_random_state() -> dict:
    """This process's global random states.

    Returns:
        dict: ``python`` (``random.getstate()``), ``numpy`` (the MT19937 state:
        the key as an int64 tensor, position, cached Gaussian), ``torch`` (the
        CPU generator) and, with CUDA, ``cuda`` (the current device's
        generator). Tensors, tuples and numbers only, so ``torch.load`` reads
        them also with ``weights_only=True``.
    """
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=(kind, torch.from_numpy(key.astype(np.int64)), int(pos),
               int(has_gauss), float(gauss)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_random_state(state: dict) -> List[str]:
    """Restore what :func:`get_random_state` returned.

    Args:
        state (dict): The saved states.

    Returns:
        list[str]: The generators restored.
    """
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    kind, key, pos, has_gauss, gauss = state['numpy']
    np.random.set_state(
        (kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'].cpu())
    restored = ['python', 'numpy', 'torch']
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())
        restored.append('cuda')
    return restored


class _CallAfter:
    """Iterate ``iterator``; call ``action`` right after the ``count``-th item.

    Stands in for ``IterBasedTrainLoop.dataloader_iterator`` during a resume:
    the loop pulls the ``count`` batches already trained on, then the first new
    one, with no hook in between.
    """

    def __init__(self, iterator: Iterator, count: int,
                 action: Callable[[], None]) -> None:
        self.iterator, self.count, self.action = iterator, count, action

    def __iter__(self) -> '_CallAfter':
        return self

    def __next__(self):
        item = next(self.iterator)
        self.count -= 1
        if self.count == 0:
            self.action()
        return item

    def __getattr__(self, name: str):
        return getattr(self.iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the global random states in checkpoints; restore them on resume.

    Why: mmengine 0.10.7 saves no random state. A resumed run is seeded as a
    fresh one (``randomness.seed``) and replays the random stream from its
    start, so latents, gradient-penalty mixes, StyleGAN noise and random
    transforms differ from the uninterrupted run after a resume. With this hook
    ``N`` iterations straight and ``N/2`` + resume + ``N/2`` give the same
    per-iteration losses and bit-identical weights, EMA, optimizer states and
    hook states (on CPU, or on GPU with deterministic kernels: ``cudnn.benchmark``
    and non-deterministic CUDA ops break equality by themselves).

    What is saved, under ``'random_states'``: ``random`` (Python), ``numpy``'s
    global generator, torch's CPU generator and, with CUDA, the generator of the
    process's current device; one set per rank, and each rank restores its own
    (the runtime seeds ranks differently, ``diff_rank_seed=True``). Other
    devices' generators (MUSA, NPU) are not saved. ``Runner.save_checkpoint``
    runs on rank 0 only, so under DDP every rank contributes its states to an
    ``all_gather_object`` (about 15 kB) in each ``after_train_iter`` /
    ``after_train_epoch``, just before ``CheckpointHook`` (priority 80, between
    ``LOW`` and ``VERY_LOW``); rank 0 stores them when it saves.

    When they are restored: not when the checkpoint is loaded, because
    ``IterBasedTrainLoop`` then advances the dataloader by the resumed
    iteration count (re-drawing the batches already trained on; with
    ``num_workers=0`` random transforms consume the main process's ``numpy`` /
    ``random`` state), and it fetches the first new batch before any hook is
    called. The hook therefore wraps the loop's dataloader iterator in
    ``before_train_epoch`` and restores the states right after the last
    skipped batch, before the first new one, i.e. at the point where the state
    was saved (the checkpoint is written in ``after_train_iter``, before the
    next batch is drawn). An epoch-based loop (no advance) is restored in
    ``before_train_epoch``. Only a resume restores: after ``load_from`` without
    resume (iteration 0) the run keeps its fresh seeded stream.

    Validation during training runs on a snapshot: the states are saved in
    ``before_val`` and put back in ``after_val``, so evaluation does not shift
    the training stream (the uninterrupted run evaluates after the checkpoint,
    the resumed one does not) and results do not depend on ``val_interval``.
    A checkpoint written during validation (the best one) stores the training
    states.

    What else a resume relies on (checked by ``tests/test_exact_resume.py``):
    mmengine restores the weights and buffers (the EMA generator with its
    ``steps`` counter, ``w_avg``), both optimizers, the message hub (the
    logged loss history, so smoothed log values continue too) and the states
    hooks save (``TrainingStabilityHook``); ``InfiniteSampler`` draws its
    order from its own ``torch.Generator``, seeded when the dataloader is built
    (with the runtime's ``diff_rank_seed=True`` from rank 0's freshly seeded
    numpy stream, broadcast), so the advance replays the same order.

    Enabled for every config by ``default_hooks.random_state`` in
    ``configs/_base_/msg_runtime.py``. mmengine cannot drop an extra default
    hook with ``None``; ``restore=False`` turns the restore off.

    Limits:

    - A fixed ``randomness.seed`` is needed (the runtime sets 2022): with
      ``seed=None`` mmengine takes the checkpoint's seed only after the
      dataloader is built, so the sampler order and the workers' seeds change.
    - Dataloader workers (``num_workers > 0``): transforms run in the workers,
      whose generators are not in the checkpoint. mmengine's
      ``worker_init_fn`` seeds worker ``i`` of rank ``r`` with
      ``seed_r + num_workers * r + i`` (numpy, ``random``, torch; ``seed_r``
      the rank's seed) every time the workers start: once for
      ``InfiniteSampler`` (it never ends), at every restart of the dataloader
      for a finite sampler without ``persistent_workers``. The advance pulls
      the skipped batches through the same workers, so their streams are
      replayed and the batches after a resume are the same (checked with a
      random flip and ``num_workers=2``), provided ``num_workers``, the world
      size, the seed and the batch size are unchanged, at the cost of
      re-loading the skipped batches. A custom ``worker_init_fn`` loses this.
    - Hooks that draw global random numbers in ``after_train_iter`` after the
      states are taken are not replayed: after ``CheckpointHook`` on rank 0,
      after this hook (priority 80) on the other ranks. The plugin's hooks
      draw none (their latents come from their own seeded generators).
    - Another world size than the checkpoint's: ranks beyond the saved ones
      keep their seeded streams (a warning says so).

    Args:
        restore (bool): Restore on resume. Defaults to True; False only saves.
        isolate_val (bool): Run validation during training on a snapshot of
            the states. Defaults to True.
    """

    # after the hooks of LOW priority (stability, samples), before CheckpointHook
    priority = 80

    def __init__(self, restore: bool = True, isolate_val: bool = True) -> None:
        self.restore = restore
        self.isolate_val = isolate_val
        self._pending: Optional[Dict] = None
        self._in_train = False
        self._val_snapshot: Optional[dict] = None
        self._ranks: Optional[List[dict]] = None

    def _gather(self) -> None:
        """Collect every rank's states (collective; under DDP only)."""
        if get_world_size() > 1:
            self._ranks = all_gather_object(get_random_state())

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        self._gather()

    def after_train_epoch(self, runner) -> None:
        self._gather()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the states of every rank (called on rank 0 only)."""
        state = self._val_snapshot or get_random_state()
        ranks = [state]
        if get_world_size() > 1:
            if self._ranks is None:
                runner.logger.warning(
                    'RandomStateHook: no random states gathered from the other '
                    'ranks yet; only rank 0 is saved.')
            else:
                ranks = [state] + list(self._ranks[1:])
        checkpoint[CKPT_KEY] = dict(
            iter=checkpoint.get('meta', {}).get('iter', runner.iter),
            ranks=ranks)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep this rank's states until the dataloader has been advanced."""
        saved = checkpoint.get(CKPT_KEY)
        if saved is None:
            runner.logger.warning(
                'RandomStateHook: the checkpoint holds no random states; a '
                'resume replays the random stream from the seed.')
            self._pending = None
            return
        rank = get_rank()
        if len(saved['ranks']) != get_world_size():
            runner.logger.warning(
                f'RandomStateHook: the checkpoint holds the random states of '
                f"{len(saved['ranks'])} ranks, this run has "
                f'{get_world_size()}; ranks without saved states keep their '
                'seeded streams.')
        self._pending = None if rank >= len(saved['ranks']) else dict(
            iter=saved['iter'], state=saved['ranks'][rank])

    def before_train(self, runner) -> None:
        self._in_train = True

    def after_train(self, runner) -> None:
        self._in_train = False

    def before_train_epoch(self, runner) -> None:
        """Arrange the restore after the dataloader advance of a resume."""
        pending, self._pending = self._pending, None
        if pending is None or not self.restore or runner.iter == 0:
            return  # nothing loaded, or load_from without resume
        if pending['iter'] != runner.iter:
            runner.logger.warning(
                f"RandomStateHook: random states saved at iteration "
                f"{pending['iter']}, resuming at {runner.iter}; not restored.")
            return
        loop = runner.train_loop

        def restore() -> None:
            restored = set_random_state(pending['state'])
            if isinstance(loop.dataloader_iterator, _CallAfter):
                loop.dataloader_iterator = loop.dataloader_iterator.iterator
            runner.logger.info(
                f'RandomStateHook: restored the {", ".join(restored)} random '
                f'states of iteration {pending["iter"]}.')

        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop
            loop.dataloader_iterator = _CallAfter(loop.dataloader_iterator,
                                                  loop.iter, restore)
        else:
            restore()

    def before_val(self, runner) -> None:
        if self.isolate_val and self._in_train:
            self._val_snapshot = get_random_state()

    def after_val(self, runner) -> None:
        if self._val_snapshot is not None:
            set_random_state(self._val_snapshot)
            self._val_snapshot = None
