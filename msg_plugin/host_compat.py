# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Workarounds for the host stack (mmagic 1.2.0, mmengine 0.10.7, torch 2.14).

mmagic is unmaintained, so its bugs are worked around here, in one place, and never by
patching site-packages. Each item says why it exists and when it can go.
"""
import importlib.machinery
import importlib.util
import os
import sys
import types

import torch


def install_mmcv_ext_placeholder() -> bool:
    """Stand in for ``mmcv._ext`` when only ``mmcv-lite`` is installed.

    Why: ``import mmagic.models`` imports the StyleGAN modules, which import
    ``mmcv.ops`` at module level, which loads the compiled extension ``mmcv._ext``.
    On CPU the GAN ops mmagic uses (``fused_bias_leakyrelu``, ``upfirdn2d``,
    ``conv2d_gradfix``) never call it: they fall back to pure PyTorch. The
    placeholder lets the import succeed; calling a compiled op raises a clear error.
    A real compiled mmcv is left untouched. It can go when mmagic guards its
    ``mmcv.ops`` imports.

    Returns:
        bool: Whether the placeholder was installed.
    """
    if 'mmcv._ext' in sys.modules or importlib.util.find_spec(
            'mmcv._ext') is not None:
        return False
    module = types.ModuleType('mmcv._ext')
    # A spec without a loader keeps mmengine's ``mmcv_full_available()`` False
    # and satisfies ``pkgutil.find_loader`` in ``revert_sync_batchnorm``.
    module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)

        def unavailable(*args, **kwargs):
            raise RuntimeError(
                f'mmcv compiled op {name!r} is unavailable: mmcv-lite is '
                'installed. Build mmcv 2.1.0 with ops to use it.')

        return unavailable

    module.__getattr__ = __getattr__
    sys.modules['mmcv._ext'] = module
    return True


def allow_full_checkpoint_loading() -> None:
    """Let mmengine load its own checkpoints under torch >= 2.6.

    Why: torch 2.6 made ``torch.load(weights_only=True)`` the default, and mmengine
    0.10.7 calls ``torch.load`` without the flag while its checkpoints hold the
    message hub (``HistoryBuffer``, numpy scalars). Resume, ``load_from``,
    ``tools/test.py`` and the inferencer then fail to unpickle. torch reads this
    variable at every ``torch.load`` call. Checkpoints are pickles: load trusted
    files only. It can go with an mmengine release after 0.10.7 (fixed on main).
    """
    os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


def prepare_cpu_distributed(cfg) -> None:
    """Make mmengine's ``pytorch`` launcher work on machines without CUDA.

    Why: mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
    unconditionally, and the Runner passes ``device_ids=[LOCAL_RANK]`` to the DDP
    wrappers, which DDP rejects for CPU modules. On CPU we start the gloo process
    group ourselves (the Runner then skips ``init_dist``) and clear ``device_ids``.
    With CUDA this does nothing and mmengine's own path (NCCL) is used.

    Args:
        cfg (Config): The run's config, updated in place.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    cfg.setdefault('model_wrapper_cfg', {})['device_ids'] = None
