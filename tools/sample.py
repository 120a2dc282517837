# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Sample images from a config + checkpoint or from an exported generator.

One latent per seed, drawn from a seeded ``torch.Generator`` on the CPU and
rendered alone (with the fixed noise maps of generators that have them), so a
seed always gives the same image, whichever other seeds, file or device.
Pixels map [-1, 1] to [0, 255]; grey generators give grey PNGs, RGB ones RGB.
"""
import argparse
import inspect
import math
import os
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np
import torch
import torch.nn as nn
from torch import Tensor
from torchvision.utils import make_grid

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from msg_plugin.multi_scale_sample_hook import upsample_scales
from msg_plugin.exported_generator import (ExportError, load_generator,
                                           load_checkpoint_generator)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Sample images from a checkpoint or an export')
    parser.add_argument(
        'source', help='run config (then CKPT) or an exported .safetensors')
    parser.add_argument(
        'checkpoint', nargs='?', help='checkpoint (iter_N.pth)')
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        metavar='SEED',
        help='one image per seed')
    seeds.add_argument(
        '--num',
        type=int,
        default=8,
        metavar='N',
        help='N images, seeds S..S+N-1 (default 8)')
    parser.add_argument(
        '--seed', type=int, default=0, metavar='S', help='see --num (0)')
    parser.add_argument(
        '--truncation',
        type=float,
        metavar='PSI',
        help='truncation psi in [0, 1] (MSGStyleGenerator only)')
    parser.add_argument(
        '--truncation-cutoff',
        type=int,
        metavar='K',
        help='truncate only the first K style inputs')
    parser.add_argument(
        '--all-scales',
        action='store_true',
        help='show every resolution side by side, upsampled to full size')
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument(
        '--grid', action='store_true', help='one grid PNG (default)')
    layout.add_argument(
        '--individual', action='store_true', help='one PNG per seed')
    parser.add_argument(
        '--out',
        metavar='DIR',
        help='output dir (default: <weights file>[_<model>]_samples)')
    parser.add_argument(
        '--model',
        choices=['ema', 'orig'],
        help='generator of a checkpoint: ema (default) or orig')
    parser.add_argument(
        '--device', default='cpu', help='torch device (default: cpu)')
    return parser.parse_args(argv)


def load(args: argparse.Namespace) -> nn.Module:
    """The generator named by the arguments (an export or config + ckpt)."""
    if args.source.endswith('.safetensors'):
        if args.checkpoint or args.model:
            raise SystemExit('An export holds one generator: give it alone, '
                             'without CKPT or --model.')
        return load_generator(args.source, args.device)
    if not args.checkpoint or args.checkpoint.endswith('.safetensors'):
        raise SystemExit('Give CONFIG CKPT, or an exported .safetensors '
                         'file alone.')
    model = args.model or 'ema'
    return load_checkpoint_generator(args.checkpoint, args.source, model,
                                     args.device)[0]


def forward_kwargs(generator: nn.Module, args: argparse.Namespace) -> dict:
    """Generator options: fixed noise maps, truncation, all scales.

    Args:
        generator (nn.Module): The generator.
        args (Namespace): The parsed flags.

    Returns:
        dict: Keyword arguments of ``generator.forward``.
    """
    params = inspect.signature(generator.forward).parameters
    kwargs = dict(return_scales=True) if args.all_scales else {}
    if args.all_scales and not hasattr(generator, 'resolutions'):
        raise SystemExit(f'--all-scales needs a multi-scale generator; '
                         f'{type(generator).__name__} gives one image.')
    if 'randomize_noise' in params:
        kwargs['randomize_noise'] = False  # the fixed noise maps
    if args.truncation is not None:
        if 'truncation' not in params:
            raise SystemExit(
                f'--truncation needs a generator with the truncation trick '
                f'(MSGStyleGenerator); {type(generator).__name__} has none: '
                'drop --truncation.')
        if not 0 <= args.truncation <= 1:
            raise SystemExit(
                f'--truncation must be in [0, 1], got {args.truncation}.')
        kwargs.update(
            truncation=args.truncation,
            truncation_cutoff=args.truncation_cutoff)
    elif args.truncation_cutoff is not None:
        raise SystemExit('--truncation-cutoff needs --truncation.')
    return kwargs


def to_uint8(images: Tensor) -> Tensor:
    """Map [-1, 1] to ``uint8`` [0, 255] (values outside are clipped)."""
    return ((images.clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)


def sheet(cells: Tensor, nrow: int) -> np.ndarray:
    """Cells as one image; several in a grid with 2 px white padding.

    Args:
        cells (Tensor): ``uint8`` images ``(N, C, H, W)``.
        nrow (int): Cells per grid row.

    Returns:
        np.ndarray: ``(H, W)`` for grey cells, ``(H, W, 3)`` for RGB.
    """
    if len(cells) > 1:
        grid = make_grid(cells, nrow=nrow, padding=2, pad_value=255)
        cells = grid[None, :cells.shape[1]]  # make_grid makes grey RGB
    return cells[0].permute(1, 2, 0).squeeze(-1).numpy()


def save_png(image: np.ndarray, path: str) -> None:
    """Write a grey ``(H, W)`` or RGB ``(H, W, 3)`` image."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(path, np.ascontiguousarray(image)):
        raise SystemExit(f'Could not write {path}.')


@torch.no_grad()
def sample(generator: nn.Module, seeds: List[int], kwargs: dict,
           device: str) -> Tensor:
    """Render each seed's latent alone.

    Args:
        generator (nn.Module): The generator, in eval mode.
        seeds (list[int]): One latent per seed.
        kwargs (dict): See :func:`forward_kwargs`.
        device (str): The generator's device.

    Returns:
        Tensor: ``uint8`` images ``(N, S, C, R, R)``, ``S`` scales (1 unless
        ``return_scales``).
    """
    rows = []
    for seed in seeds:
        noise = torch.randn(
            1,
            generator.noise_size,
            generator=torch.Generator().manual_seed(seed))
        out = generator(noise.to(device), **kwargs)
        rows.append(upsample_scales(out if isinstance(out, list) else [out]))
    return to_uint8(torch.cat(rows).cpu())


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Sample and write the PNGs.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv`` when None.

    Returns:
        list[str]: The written PNGs.
    """
    args = parse_args(argv)
    if args.num < 1:
        raise SystemExit(f'--num must be at least 1, got {args.num}.')
    seeds = args.seeds or list(range(args.seed, args.seed + args.num))
    try:
        generator = load(args)
    except ExportError as err:
        raise SystemExit(f'sample: {err}')
    images = sample(generator, seeds, forward_kwargs(generator, args),
                    args.device)
    weights = args.checkpoint or args.source
    model = f'_{args.model or "ema"}' if args.checkpoint else ''
    out = args.out or f'{osp.splitext(weights)[0]}{model}_samples'
    os.makedirs(out, exist_ok=True)
    suffix = '_all_scales' if args.all_scales else ''
    if args.individual:
        paths = [osp.join(out, f'seed{s:04d}{suffix}.png') for s in seeds]
        for path, row in zip(paths, images):
            save_png(sheet(row, len(row)), path)
    else:
        paths = [osp.join(out, f'grid{suffix}.png')]
        nrow = images.shape[1] if args.all_scales else math.ceil(
            math.sqrt(len(seeds)))
        save_png(sheet(images.flatten(0, 1), nrow), paths[0])
    print('\n'.join(f'Wrote {p}' for p in paths))
    return paths


if __name__ == '__main__':
    main()
