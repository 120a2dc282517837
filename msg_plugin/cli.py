# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""What ``tools/train.py`` and ``tools/test.py`` share: flags and config loading."""
import argparse
import os
import os.path as osp
import sys
from typing import Optional

from mmengine.config import Config, DictAction

from .host_compat import prepare_cpu_distributed


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Add mmagic's common flags: --work-dir, --cfg-options, --launcher.

    Args:
        parser (ArgumentParser): The tool's parser.
    """
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs merged into the '
        'config, e.g. train_cfg.max_iters=100 "model.generator.out_scale=64"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_*.sh use pytorch)')
    # torch.distributed.launch passes --local-rank, older versions --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace) -> Config:
    """Load the config and apply the common flags, as mmagic's tools do.

    The work dir is taken from ``--work-dir``, then the config, then
    ``./work_dirs/<config name>``. Under a distributed launcher on a machine
    without CUDA the gloo backend is started (see ``prepare_cpu_distributed``).

    Args:
        args (Namespace): Parsed arguments with the flags of
            :func:`add_runner_args` and ``config``.

    Returns:
        Config: The config to build the Runner from.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config file {args.config!r} does not exist.')
    try:
        cfg = Config.fromfile(args.config)
    except ImportError as err:
        message = custom_imports_message(err, args.config)
        if message is None:
            raise
        raise SystemExit(message) from None
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    prepare_cpu_distributed(cfg)
    return cfg


def custom_imports_message(err: ImportError, config: str) -> Optional[str]:
    """One line for a config whose ``custom_imports`` cannot be imported.

    mmengine reports it as ``Failed to import custom modules`` followed by the
    whole ``sys.path``; the cause (the module not found) is in the chain.

    Args:
        err (ImportError): What ``Config.fromfile`` raised.
        config (str): The config file, for the message.

    Returns:
        str | None: The message; None for an ImportError of another kind.
    """
    if 'Failed to import custom modules' not in str(err):
        return None
    failed, missing, cause = None, None, err
    while cause is not None:  # mmengine's 'Failed to import X', then its cause
        text = str(cause)
        if failed is None and text.startswith('Failed to import ') and \
                not text.startswith('Failed to import custom modules'):
            failed = text[len('Failed to import '):]
        if isinstance(cause, ModuleNotFoundError) and cause.name:
            missing = cause.name
        cause = cause.__cause__ or cause.__context__
    python = sys.executable
    install = ('install it with tools/install.sh, or with `pip install -e .` '
               'in the msg-gan-mmagic repository')
    if failed and failed.split('.')[0] == 'msg_plugin':
        if missing and missing.split('.')[0] == 'msg_plugin':
            return (f'{config}: custom_imports cannot import {failed}: '
                    f'msg_plugin is not installed in this Python ({python}); '
                    f'{install}.')
        return (f'{config}: custom_imports cannot import {failed}: its '
                f'dependency {missing or "(unknown)"} is missing in this '
                f'Python ({python}); reinstall msg_plugin: {install}.')
    return (f'{config}: custom_imports cannot import {failed or "a module"}'
            f'{f" (no module named {missing!r})" if missing else ""} in this '
            f'Python ({python}): install it, or fix custom_imports in the '
            'config.')
