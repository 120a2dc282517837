# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Run mmengine's real Runner in-process on the MNIST demo config."""
from pathlib import Path
from uuid import uuid4

from mmengine import Config
from mmengine.runner import Runner

ROOT = Path(__file__).resolve().parents[1]


def own_experiment(cfg):
    """Give ``cfg`` an experiment name no other runner in this process has.

    mmengine names a runner's visualizer, logger and message hub after the
    config file and the second it was built, so two runners built within one
    second would share them (and one would log into the other's work dir).

    Args:
        cfg (Config): The config to name.
    """
    cfg.experiment_name = f'{Path(cfg.filename).stem}_{uuid4().hex}'


def train_in_runner(model, work_dir, iters=2, **overrides):
    """Train ``model`` (a config dict, or None for the demo's) a few iterations.

    Args:
        model (dict | None): Model config replacing the demo's.
        work_dir (Path): Work dir of the run.
        iters (int): Iterations. Defaults to 2.
        **overrides: Top-level config keys to set (e.g. ``custom_hooks``).

    Returns:
        Runner: The runner after training.
    """
    cfg = Config.fromfile(ROOT / 'configs/msg_progan_mnist.py')
    if model is not None:
        cfg.model = model
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = iters
    cfg.train_dataloader.batch_size = 4
    cfg.custom_hooks = []
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.logger.interval = 1
    own_experiment(cfg)
    cfg.merge_from_dict(overrides)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner
