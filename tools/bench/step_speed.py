# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Time full training iterations of several configs side by side.

One iteration is the model's ``train_step``: a D step and a G step with their
losses, penalties and the EMA update, on a real batch from the config's train
dataloader. Models are stepped in turn (warm-up first), so machine noise hits them
alike; medians are reported with the ratio to the first config. The last line is
``name=value`` pairs.

    python tools/bench/step_speed.py configs/msg_progan_mnist.py \
        configs/msg_stylegan_mnist.py --steps 20
"""
import argparse
import statistics
import time
from pathlib import Path

import torch
from mmengine import Config, MessageHub
from mmengine.config import DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from mmagic.registry import MODELS
from mmagic.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--steps', type=int, default=10, help='timed steps')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='overrides applied to every config')
    return parser.parse_args()


def build(path: str, options: dict) -> tuple:
    """Model, optimizers and one real training batch of a config."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    return model, optim, next(iter(loader))


def main() -> None:
    args = parse_args()
    register_all_modules()
    torch.manual_seed(0)
    runs = {Path(p).stem: build(p, args.cfg_options) for p in args.configs}
    times = {name: [] for name in runs}
    hub = MessageHub.get_current_instance()
    for step in range(args.warmup + args.steps):
        hub.update_info('iter', step)
        for name, (model, optim, batch) in runs.items():
            start = time.perf_counter()
            model.train_step(batch, optim)
            if step >= args.warmup:
                times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    first = next(iter(medians))
    print(f'{"config":<28} {"s/iter":>8} {"it/s":>6} {"ratio":>6}')
    for name, median in medians.items():
        print(f'{name:<28} {median:8.3f} {1 / median:6.2f} '
              f'{median / medians[first]:6.2f}')
    pairs = [f'{name}_s_per_iter={m:.3f}' for name, m in medians.items()]
    pairs += [f'{name}_vs_{first}={m / medians[first]:.2f}'
              for name, m in medians.items() if name != first]
    print(' '.join(pairs))


if __name__ == '__main__':
    main()
