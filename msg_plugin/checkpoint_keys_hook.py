# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Checkpoint keys without the DDP wrappers, so that a DDP resume loads G and D."""
from collections import OrderedDict
from typing import Dict, List

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import get_state_dict
from mmagic.registry import HOOKS


def _wrapper_names(model) -> List[str]:
    """Names of the submodules of ``model`` that are model wrappers (DDP)."""
    return sorted((name for name, module in model.named_modules()
                   if name and is_model_wrapper(module)),
                  key=len, reverse=True)


def _unwrap_key(key: str, wrappers: List[str]) -> str:
    for name in wrappers:
        if key == f'{name}.module' or key.startswith(f'{name}.module.'):
            return name + key[len(name) + len('.module'):]
    return key


def _renamed(state_dict: Dict, rename: Dict[str, str]) -> OrderedDict:
    """``state_dict`` with keys (and its ``_metadata`` prefixes) renamed."""
    out = OrderedDict((rename.get(k, k), v) for k, v in state_dict.items())
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        out._metadata = type(metadata)(
            (rename.get(k, k), v) for k, v in metadata.items())
    return out


@HOOKS.register_module()
class UnwrappedCheckpointHook(Hook):
    """Save model weights under their plain names, whatever wraps the model.

    Why: under DDP mmagic's ``MMSeparateDistributedDataParallel`` wraps the
    generator and the discriminator each in a DDP module, and mmengine 0.10.7's
    ``Runner.save_checkpoint`` stores ``model.state_dict()`` as it is:
    ``generator.module.<...>``, ``discriminator.module.<...>``. mmengine's
    loader, however, looks through wrappers and expects ``generator.<...>``
    (it only strips a *leading* ``module.``). So a resume under DDP silently
    (a "do not match" message, ``strict=False``) kept the freshly initialised
    G and D while it restored their optimizers and the EMA generator (never
    wrapped), and ``tools/test.py`` / the inferencer loaded a random G from
    such a checkpoint.

    In ``before_save_checkpoint`` the keys of wrapped submodules lose their
    ``.module`` (and so do the ``_metadata`` prefixes): a DDP checkpoint has
    the keys of a single-process one and loads anywhere. In
    ``after_load_checkpoint`` (before mmengine loads the weights) a checkpoint
    written without this hook is repaired: a key the model does not have
    loses one ``.module`` segment when the result is a key it has (the EMA
    generator's own ``generator_ema.module.`` keys are kept).

    Priority ``HIGHEST``: the repair comes before other hooks read the
    checkpoint (``InputCheckHook`` compares its keys with the model's).
    """

    priority = 'HIGHEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        self._unwrap(checkpoint, _wrapper_names(model))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict')
        if state is None:
            return
        expected = set(get_state_dict(runner.model))
        wrappers = set()
        for key in state:
            if key in expected or '.module.' not in key:
                continue
            parts = key.split('.')
            for i in range(1, len(parts) - 1):
                if parts[i] == 'module' and '.'.join(
                        parts[:i] + parts[i + 1:]) in expected:
                    wrappers.add('.'.join(parts[:i]))
                    break
        if wrappers:
            runner.logger.info(
                'UnwrappedCheckpointHook: the checkpoint has the weights of '
                f'{sorted(wrappers)} under DDP wrapper names; loading them '
                'under their plain names.')
            self._unwrap(checkpoint, sorted(wrappers, key=len, reverse=True),
                         keep=expected)

    @staticmethod
    def _unwrap(checkpoint: dict, wrappers: List[str], keep=()) -> None:
        """Drop the ``.module`` of ``wrappers`` from the state-dict keys.

        Args:
            checkpoint (dict): The checkpoint, changed in place.
            wrappers (list[str]): Names of wrapped submodules, longest first.
            keep (Container[str]): Keys left as they are.
        """
        state = checkpoint.get('state_dict')
        if not wrappers or state is None:
            return
        rename = {k: _unwrap_key(k, wrappers) for k in state if k not in keep}
        metadata = getattr(state, '_metadata', None) or {}
        rename.update({k: _unwrap_key(k, wrappers) for k in metadata})
        checkpoint['state_dict'] = _renamed(state, rename)
