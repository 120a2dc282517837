# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Evaluate a checkpoint with the config's test metrics (mmagic's flags)."""
import argparse

from mmengine.fileio import dump
from mmengine.hooks import Hook
from mmengine.runner import Runner

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from msg_plugin.cli import add_runner_args, load_run_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the metrics to this file (json/yaml/pkl)')
    add_runner_args(parser)
    return parser.parse_args()


class KeepMetrics(Hook):
    """Keep the test metrics (mmagic's ``MultiTestLoop.run`` returns None)."""

    metrics = None

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.metrics = {k: float(v) for k, v in (metrics or {}).items()}


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)
    cfg.load_from = args.checkpoint
    runner = Runner.from_cfg(cfg)
    kept = KeepMetrics()
    runner.register_hook(kept, 'LOWEST')
    runner.test()
    if args.out and runner.rank == 0:
        dump(kept.metrics, args.out)


if __name__ == '__main__':
    main()
