# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The training-stability metric of the paper (Fig. 6) as a training hook."""
import json
import os.path as osp
from typing import Dict, List, Optional

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mmengine.dist import get_world_size, master_only
from mmengine.hooks import Hook
from mmagic.registry import HOOKS
from torch import Tensor, nn

from .multi_scale_sample_hook import render_fixed_latents

CKPT_KEY = 'training_stability'


@HOOKS.register_module()
class TrainingStabilityHook(Hook):
    """Track how much the images of fixed latents change, at every scale.

    The paper's stability measure (MSG-GAN, Fig. 6): fixed latents ``z_k`` are
    rendered at every resolution after every "epoch" ``e`` and
    ``stability_e(res) = mean_k mean_pixels (G_e(z_k) - G_{e-1}(z_k))^2``.
    Choices the paper leaves open:

    - "Epoch" means every ``interval`` training iterations, i.e. a fixed budget
      of ``interval * global batch size`` real images, not a dataset epoch:
      mmagic's GAN schedules are iteration based, and fixed spacing makes curves
      of different datasets comparable. The first rendering is made before
      training (iteration 0) as the reference, so it has no value; values
      follow every ``interval`` iterations and, with ``at_end``, after the last
      one (that gap may be shorter).
    - The EMA generator (``sample_model='ema'``, the averaged copy
      ``model.generator_ema.module``) is measured by default, as it is the one
      sampled and evaluated; ``'orig'`` measures the raw G. Without EMA the raw
      G is used. The generator is switched to eval mode for the rendering and
      back afterwards; generators with per-layer noise (``MSGStyleGenerator``)
      use their fixed noise (``randomize_noise=False``), so a G that does not
      change scores exactly 0.
    - Images are the network output clamped to [-1, 1] (the data range), so a
      value lies in [0, 4]. Generators without ``resolutions`` count as one
      scale.
    - The ``num_samples`` latents come from a generator seeded with ``seed``,
      so they are the same on every rank and after a resume. Every rank renders
      (no collectives) and keeps the same state; only rank 0 writes files.

    Each measurement is logged through the visualizer and the message hub as
    ``stability/<res>`` (step: iterations done) and appended to the history
    (``iter``, ``images_shown = iter * global batch size``, ``stability``:
    value per resolution). Rank 0 writes ``<out_dir>/stability.json`` (the
    history) and ``<out_dir>/stability.png`` (one curve per resolution against
    images shown; log scale once all values are positive). The history and the
    previous rendering (on the CPU, float32) are saved in the checkpoint under
    ``'training_stability'``, so a resumed run continues the curve. A rendering
    costs ``num_samples * channels * sum(res^2) * 4`` bytes (about 600 MB at
    1024x1024 RGB); with ``save_rendering=False`` only the history is saved and
    the first point after a resume is a new reference without a value. A
    checkpoint whose history runs past the current iteration (``load_from``
    without resume) is ignored and the curve starts afresh.

    Args:
        interval (int): Measure every ``interval`` iterations. Defaults to 500.
        num_samples (int): Number of fixed latents. Defaults to 36 (paper).
        seed (int): Seed of the fixed latents. Defaults to 0.
        sample_model (str): ``'ema'`` or ``'orig'``. Defaults to ``'ema'``.
        at_end (bool): Also measure after the last iteration. Defaults to True.
        save_rendering (bool): Keep the previous rendering in checkpoints.
            Defaults to True.
        out_dir (str, optional): Where to write the plot and the history;
            defaults to the runner's ``work_dir``.
        filename (str): Stem of the two files. Defaults to ``'stability'``.
    """

    priority = 'LOW'  # after the EMA update, before CheckpointHook saves

    def __init__(self,
                 interval: int = 500,
                 num_samples: int = 36,
                 seed: int = 0,
                 sample_model: str = 'ema',
                 at_end: bool = True,
                 save_rendering: bool = True,
                 out_dir: Optional[str] = None,
                 filename: str = 'stability') -> None:
        for name, value in (('interval', interval),
                            ('num_samples', num_samples)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f'{name} must be a positive int, got {value!r}.')
        if sample_model not in ('ema', 'orig'):
            raise ValueError(
                f"sample_model must be 'ema' or 'orig', got {sample_model!r}.")
        self.interval = interval
        self.num_samples = num_samples
        self.seed = seed
        self.sample_model = sample_model
        self.at_end = at_end
        self.save_rendering = save_rendering
        self.out_dir = out_dir
        self.filename = filename
        self.previous: Optional[List[Tensor]] = None
        self.history: List[dict] = []

    def before_train(self, runner) -> None:
        """Drop a stale restored state and render the reference if needed."""
        if self.history and self.history[-1]['iter'] > runner.iter:
            runner.logger.warning(
                'TrainingStabilityHook: the loaded history runs past iteration '
                f'{runner.iter} (not a resume); starting a new curve.')
            self.previous, self.history = None, []
        if self.previous is None:
            self.measure_and_log(runner, runner.iter)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Measure every ``interval`` iterations and after the last one."""
        if (self.every_n_train_iters(runner, self.interval)
                or (self.at_end and self.is_last_train_iter(runner))):
            self.measure_and_log(runner, runner.iter + 1)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the history and (with ``save_rendering``) the last rendering."""
        previous = self.previous if self.save_rendering else None
        checkpoint[CKPT_KEY] = dict(
            history=self.history, previous=previous, latents=self._signature())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the state saved by ``before_save_checkpoint``, if any."""
        state = checkpoint.get(CKPT_KEY)
        if state is None:
            return
        self.history = [dict(h) for h in state['history']]
        previous = state['previous']
        if previous is not None and state['latents'] != self._signature():
            runner.logger.warning(
                'TrainingStabilityHook: the checkpoint used other latents '
                f"({state['latents']}); its rendering is dropped.")
            previous = None
        self.previous = None if previous is None else [
            p.detach().float().cpu() for p in previous]

    @torch.no_grad()
    def measure(self, model: nn.Module) -> Dict[str, Optional[float]]:
        """Render the fixed latents and compare with the previous rendering.

        Args:
            model (nn.Module): The GAN model (wrapped or not).

        Returns:
            dict: Mean squared difference per resolution (keys ``'4'``,
            ``'8'``, ...), None where there is no previous rendering.
        """
        scales = render_fixed_latents(model, self.num_samples, self.seed,
                                      self.sample_model)
        current = [s.float().cpu() for s in scales]
        previous, self.previous = self.previous, current
        if previous is None:
            return {str(c.shape[-1]): None for c in current}
        return {
            str(c.shape[-1]): (c - p).square().mean().item()
            for c, p in zip(current, previous)
        }

    def measure_and_log(self, runner, iters_done: int) -> None:
        """Measure, log the values and extend and write the history.

        Args:
            runner (Runner): The training runner.
            iters_done (int): Training iterations completed so far.
        """
        values = self.measure(runner.model)
        self.history.append(
            dict(iter=iters_done,
                 images_shown=iters_done * self._global_batch_size(runner),
                 stability=values))
        scalars = {f'stability/{r}': v for r, v in values.items()
                   if v is not None}
        for name, value in scalars.items():
            runner.message_hub.update_scalar(name, value)
        if scalars:
            runner.visualizer.add_scalars(scalars, step=iters_done)
            runner.logger.info(f'Iter {iters_done}: ' + ', '.join(
                f'{k}: {v:.4g}' for k, v in scalars.items()))
        self.write(runner)

    @master_only
    def write(self, runner) -> None:
        """Write the history as JSON and its plot as PNG (rank 0 only).

        Args:
            runner (Runner): The training runner.
        """
        stem = osp.join(self.out_dir or runner.work_dir, self.filename)
        with open(stem + '.json', 'w') as f:
            json.dump(self.history, f, indent=1)
        fig = Figure(figsize=(6, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        values = []
        for res in self.history[-1]['stability']:
            points = [(h['images_shown'], h['stability'].get(res))
                      for h in self.history]
            points = [(x, y) for x, y in points if y is not None]
            values += [y for _, y in points]
            ax.plot([x for x, _ in points], [y for _, y in points],
                    marker='.', label=f'{res}x{res}')
        if values and min(values) > 0:
            ax.set_yscale('log')
        ax.set_xlabel('images shown')
        ax.set_ylabel('MSE between consecutive renders')
        ax.set_title('Training stability')
        ax.legend()
        fig.tight_layout()
        fig.savefig(stem + '.png')

    def _signature(self) -> List[int]:
        """What defines the fixed latents (stored with the rendering)."""
        return [self.seed, self.num_samples, self.sample_model]

    @staticmethod
    def _global_batch_size(runner) -> int:
        """Real images per iteration over all ranks."""
        loader = runner.train_dataloader
        batch = loader.batch_size or loader.batch_sampler.batch_size
        return batch * get_world_size()
