# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Train a model from a config with mmengine's Runner (mmagic's flags)."""
import argparse

import torch
from mmengine.runner import Runner

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from msg_plugin.cli import add_runner_args, load_run_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='resume from the latest checkpoint in the work dir (or from '
        'load_from when it is set)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision for every optimizer (needs CUDA)')
    add_runner_args(parser)
    return parser.parse_args()


def enable_amp(cfg) -> None:
    """Turn every optimizer wrapper of the config into an ``AmpOptimWrapper``.

    Unlike mmagic's tool, a per-module wrapper without an explicit ``type`` (the
    usual GAN config) is converted too instead of being silently skipped.
    """
    if not torch.cuda.is_available():
        raise SystemExit('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); '
                         'drop --amp to train on CPU.')
    wrappers = cfg.optim_wrapper
    if wrappers.get('constructor') == 'MultiOptimWrapperConstructor':
        wrappers = [w for k, w in wrappers.items() if isinstance(w, dict)]
    else:
        wrappers = [wrappers]
    for wrapper in wrappers:
        if wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper',
                                                       'AmpOptimWrapper'):
            raise SystemExit(f'--amp cannot convert {wrapper.type}.')
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)
    if args.amp:
        enable_amp(cfg)
    if args.resume:
        cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.logger.info(f'Checkpoints and logs are in {cfg.work_dir}')


if __name__ == '__main__':
    main()
