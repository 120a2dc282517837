# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Time full training iterations of several models side by side.

One iteration is the model's ``train_step``: a D step and a G step with their
losses, penalties and the EMA update. Models are stepped in turn, one step each
per round (warm-up rounds first), so machine noise hits them alike; medians are
reported. The last line is ``name=value`` pairs.

Config-list mode: the models of some configs, each on a real batch of its train
dataloader, with the ratio of every median to the first config's::

    python tools/bench/step_speed.py configs/msg_progan_mnist.py \
        configs/msg_stylegan_mnist.py --steps 20

Suite mode (``--suite paper``): the comparison behind "MSG-GAN costs about what
the host's own GANs cost per iteration". Per resolution (32 and 128 by default)
it builds MSG-ProGAN and MSG-StyleGAN at the paper's widths
``c(r) = min(512, 16384 / r)``, each against the same model with every
multi-scale connection off (``msg_scales=[]``) and against mmagic's own GAN of
that family (``ProgressiveGrowingGAN`` with PGGAN's networks, ``StyleGANv1``),
held at the final resolution (``nkimgs_per_scale={R: 1e9}``: no growing), all
stepped through their own ``train_step`` on one fixed real batch with the same
optimizer (Adam, lr 1e-3, betas (0, 0.99)) and the same EMA. mmagic's PGGAN
fuses each discriminator block's second conv with its pooling (a cheaper block
than the paper's), so the ProGANs are also compared block for block:
``msg_vs_pggan_unfused`` (PGGAN with the paper's block) and
``msg_fused_vs_pggan`` (MSG-ProGAN with PGGAN's block). It reports per
model the median s/iter (min-max), the conv/linear FLOPs of one iteration, the
achieved GFLOP/s, its fraction of this CPU's conv throughput at the model's
dominant shapes (measured here), and the peak memory; ratios are our median of
the per-round ratios (our step / theirs in the same round)::

    python tools/bench/step_speed.py --suite paper --resolutions 32 \
        --warmup 2 --steps 7
    python tools/bench/step_speed.py --suite paper --resolutions 128 \
        --warmup 2 --steps 5
    # quick: widths / 8, and a torch.profiler table of the MSG steps
    python tools/bench/step_speed.py --suite paper --width-scale 0.125 \
        --resolutions 32 --steps 3 --warmup 1 --profile

Methods (suite mode; the models are built in ``paper_suite.py``, the FLOP,
conv-throughput and memory probes live in ``cost_probes.py``):

- FLOPs: one warm-up iteration runs under a ``TorchDispatchMode`` that adds up
  torch's own formulas (``torch.utils.flop_counter.flop_registry``: conv,
  transposed conv, conv backward, mm/addmm/bmm) for every op the iteration
  dispatches, forward, backward and the double backward of the gradient
  penalties alike. Elementwise work, the optimizer and the EMA are not
  counted. (The stock ``FlopCounterMode`` cannot be used: its module hooks
  break ``autograd.grad(create_graph=True)``.)
- Conv peak: ``F.conv2d`` forward + backward (input, weight and bias grads,
  counted as 3x the forward FLOPs) of a 3x3, pad-1 conv ``c(r) -> c(r)`` at
  ``r x r`` and the suite's batch, for every ``r`` whose such conv carries the
  most FLOPs in the model (32 at 32x32; 32, 64 and 128 at 128x128, which tie);
  2 warm-up calls, median of 5; the peak is the best shape, measured before and
  after the timed rounds and averaged.
- Memory: each model is built in its own forked process (forked right after
  the imports, before anything else is built or run) and trained
  ``--memory-steps`` iterations; ``peak`` is that process's
  ``getrusage(RUSAGE_SELF).ru_maxrss`` (imports included), ``step`` is peak
  minus the resident size after building the model (activations, gradients,
  optimizer state and allocator growth of training).
"""
import argparse
import functools
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from mmengine import Config, MessageHub
from mmengine.config import DictAction
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from cost_probes import conv_peak, count_flops, memory_probes, profile_steps
from mmagic.registry import MODELS
from mmagic.utils import register_all_modules
from paper_suite import DEFAULT_BATCH, SUITE, build_suite, widths

# ratios of the last line: name -> (ours, theirs)
RATIOS = {
    'msg_vs_off': ('msg', 'msg_off'),
    'msg_vs_pggan': ('msg', 'pggan'),
    'msg_vs_pggan_unfused': ('msg', 'pggan_unfused'),
    'msg_fused_vs_pggan': ('msg_fused', 'pggan'),
    'msgstyle_vs_off': ('msgstyle', 'msgstyle_off'),
    'msgstyle_vs_stylegan1': ('msgstyle', 'stylegan1'),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='*', help='config files')
    parser.add_argument('--steps', type=int, default=10, help='timed steps')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='overrides applied to every config')
    suite = parser.add_argument_group('suite mode')
    suite.add_argument(
        '--suite', choices=['paper'],
        help='build the MSG vs mmagic comparison instead of configs')
    suite.add_argument(
        '--resolutions', type=int, nargs='+', default=[32, 128],
        help='output resolutions, one group each (default: 32 128)')
    suite.add_argument(
        '--width-scale', type=float, default=1.,
        help='multiply every width (and the latent size) by this: 1 is the '
        'paper, c(r) = min(512, 16384 / r); e.g. 0.125 for quick runs')
    suite.add_argument(
        '--batch', type=int, default=None,
        help='batch size of every group (default: 16 at <= 32 px, else 8)')
    suite.add_argument(
        '--models', nargs='+', choices=SUITE, default=list(SUITE),
        help='a subset of the suite (ratios need both of their models)')
    suite.add_argument(
        '--memory-steps', type=int, default=2,
        help='iterations of the per-model memory probes; 0 skips them')
    suite.add_argument(
        '--no-flops', action='store_true',
        help='skip the FLOP count and the conv peak')
    suite.add_argument(
        '--profile', action='store_true',
        help='after timing, print torch.profiler tables of one step of the '
        'MSG models of the lowest resolution')
    parser.add_argument(
        '--threads', type=int, default=None,
        help='torch intra-op threads (default: torch\'s own choice)')
    args = parser.parse_args()
    if bool(args.configs) == bool(args.suite):
        parser.error('give config files or --suite, not both or neither')
    return args


def build(path: str, options: dict) -> tuple:
    """Model, optimizers and one real training batch of a config."""
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    return model, optim, next(iter(loader))


def run_configs(args: argparse.Namespace) -> None:
    """Time the configs' models in turn and print medians and ratios."""
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


def _span(values: List[float], fmt: str = '.3f') -> str:
    return (f'{statistics.median(values):{fmt}} '
            f'({min(values):{fmt}}-{max(values):{fmt}})')


def run_group(args: argparse.Namespace, resolution: int, batch: int,
              memory: Dict[Tuple[str, int], Tuple[float, float]]
              ) -> Dict[str, float]:
    """Build, time and report one resolution; return its last-line pairs."""
    scale = args.width_scale
    torch.manual_seed(0)
    runs = {
        name: build_suite(name, resolution, scale, batch)
        for name in args.models
    }
    peak_before = {} if args.no_flops else conv_peak(resolution, scale, batch)
    hub = MessageHub.get_current_instance()
    times = {name: [] for name in runs}
    flops = {}
    for step in range(args.warmup + args.steps):
        hub.update_info('iter', step)
        for name, (model, optim, data) in runs.items():
            if step == args.warmup - 1 and not args.no_flops:
                flops[name] = count_flops(
                    functools.partial(model.train_step, data, optim))
                continue
            start = time.perf_counter()
            model.train_step(data, optim)
            if step >= args.warmup:
                times[name].append(time.perf_counter() - start)
        done = ', '.join(f'{n} {t[-1]:.2f}s' for n, t in times.items() if t)
        print(f'[{resolution}px] round {step + 1}/{args.warmup + args.steps}'
              f'{": " + done if step >= args.warmup else " (warm-up)"}',
              file=sys.stderr, flush=True)
    if not args.no_flops and not flops:  # no warm-up: count after timing
        flops = {
            name: count_flops(functools.partial(model.train_step, data, optim))
            for name, (model, optim, data) in runs.items()
        }
    peak_after = {} if args.no_flops else conv_peak(resolution, scale, batch)
    if args.profile and resolution == min(args.resolutions):
        profile_steps(runs, [n for n in ('msg', 'msgstyle') if n in runs])

    base, top = widths(scale)
    print(f'\n== {resolution}x{resolution}, batch {batch}, widths '
          f'min({top}, {base}/r), {args.warmup} warm-up + {args.steps} timed '
          f'rounds, torch threads {torch.get_num_threads()} ==')
    pairs = {}
    peak = None
    if peak_before:
        peak = (max(peak_before.values()) + max(peak_after.values())) / 2
        shapes = ', '.join(
            f'{min(top, base // r)}->{min(top, base // r)} @{r}x{r}: '
            f'{peak_before[r]:.0f}/{peak_after[r]:.0f}' for r in peak_before)
        print(f'conv 3x3 fwd+bwd GFLOP/s before/after (b{batch}): {shapes}; '
              f'peak {peak:.0f}')
        pairs[f'conv_peak_gflops_{resolution}'] = peak
    header = (f'{"model":<14} {"s/iter median (min-max)":>26} '
              f'{"GFLOP/iter":>10} {"GFLOP/s":>8} {"of peak":>7} '
              f'{"peak RSS MiB":>12} {"step RSS MiB":>12}')
    print(header)
    for name, values in times.items():
        median = statistics.median(values)
        key = f'{name}_{resolution}'
        pairs[f'{name}_s_{resolution}'] = median
        row = f'{name:<14} {_span(values):>26} '
        if name in flops:
            gflop = flops[name] / 1e9
            rate = gflop / median
            pairs[f'gflop_{key}'] = gflop
            pairs[f'gflops_{key}'] = rate
            pairs[f'peak_fraction_{key}'] = rate / peak
            row += f'{gflop:10.1f} {rate:8.1f} {rate / peak:7.2f} '
        else:
            row += f'{"-":>10} {"-":>8} {"-":>7} '
        if (name, resolution) in memory:
            rss, step_rss = memory[name, resolution]
            pairs[f'peak_rss_mib_{key}'] = rss
            pairs[f'step_rss_mib_{key}'] = step_rss
            row += f'{rss:12.0f} {step_rss:12.0f}'
        print(row)
    print(f'{"ratio (ours / theirs, same round)":<34} median (min-max)')
    for ratio, (ours, theirs) in RATIOS.items():
        if ours in times and theirs in times:
            per_round = [a / b for a, b in zip(times[ours], times[theirs])]
            pairs[f'{ratio}_{resolution}'] = statistics.median(per_round)
            print(f'{ratio}_{resolution:<{33 - len(ratio)}} '
                  f'{_span(per_round)}')
    return pairs


def run_suite(args: argparse.Namespace) -> None:
    """The paper suite: memory probes first, then one timed group per
    resolution, then the ``name=value`` line."""
    if args.width_scale != 1:
        widths(args.width_scale)  # fail early
    batches = {
        r: args.batch or DEFAULT_BATCH.get(r, 16 if r <= 32 else 8)
        for r in args.resolutions
    }
    memory = {}
    if args.memory_steps > 0:
        memory = memory_probes(args.models, args.resolutions,
                               args.width_scale, batches, args.memory_steps)
    pairs = {}
    for resolution in args.resolutions:
        pairs.update(run_group(args, resolution, batches[resolution], memory))
    print(' '.join(f'{k}={v:.4g}' for k, v in pairs.items()))


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    if args.suite:  # no init_weights reports of every model
        MMLogger.get_current_instance().setLevel(logging.WARNING)
        run_suite(args)
    else:
        run_configs(args)


if __name__ == '__main__':
    main()
