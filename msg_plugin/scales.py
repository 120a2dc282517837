# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Scale lists and channel widths shared by every MSG-GAN network.

An MSG-GAN of output resolution ``R`` works on the scales 4, 8, ..., R; the width of
the block at resolution ``r`` is ``c(r) = min(max_channels, channel_base // r)``
(paper Tables 6/7: ``min(512, 16384 / r)``).
"""
from typing import List, Optional, Sequence

from torch import Tensor


def check_resolution(resolution: int, name: str = 'resolution') -> int:
    """Validate an output resolution: a power of two, at least 8.

    Args:
        resolution (int): The resolution to check.
        name (str): How the caller's argument is called, for the message.

    Returns:
        int: ``resolution``, unchanged.
    """
    if (not isinstance(resolution, int) or resolution < 8
            or resolution & (resolution - 1)):
        raise ValueError(
            f'{name}={resolution!r} is not supported: MSG-GAN needs a power of '
            'two of at least 8 (8, 16, 32, ..., 1024); resize the data to one, '
            'e.g. with a Resize transform.')
    return resolution


def scale_resolutions(resolution: int) -> List[int]:
    """All resolutions of a model, low to high: ``[4, 8, ..., resolution]``.

    Args:
        resolution (int): Highest resolution, a power of two >= 8.

    Returns:
        list[int]: The resolutions, 4 first.
    """
    check_resolution(resolution)
    return [2**k for k in range(2, resolution.bit_length())]


def fed_resolutions(resolution: int,
                    msg_scales: Optional[Sequence[int]] = None) -> List[int]:
    """Resolutions that reach the discriminator, low to high.

    The full resolution always does (it is the main input, not a multi-scale
    connection); ``msg_scales`` chooses the lower scales (paper Table 4: none,
    coarse (4, 8), middle (16, 32), fine (64 and up), all).

    Args:
        resolution (int): Highest resolution, a power of two >= 8.
        msg_scales (Sequence[int], optional): The connected lower resolutions;
            ``resolution`` itself may be listed too. Defaults to None: all of
            them; ``[]`` connects none (a single-scale GAN).

    Returns:
        list[int]: The chosen resolutions, ``resolution`` last.
    """
    lower = scale_resolutions(resolution)[:-1]
    if msg_scales is None:
        return lower + [resolution]
    chosen = set(msg_scales) - {resolution}
    if not chosen <= set(lower):
        raise ValueError(
            f'msg_scales={list(msg_scales)} must be chosen from {lower}: the '
            f'resolutions below {resolution} (the full resolution is always '
            'fed to the discriminator).')
    return sorted(chosen) + [resolution]


def channel_width(resolution: int,
                  channel_base: int = 16384,
                  max_channels: int = 512) -> int:
    """Width ``c(r) = min(max_channels, channel_base // r)`` of one block.

    Args:
        resolution (int): The block's resolution.
        channel_base (int): Numerator of the width rule (paper: 16384).
        max_channels (int): Cap of the width rule (paper: 512).

    Returns:
        int: Number of feature channels, at least 1.
    """
    return max(1, min(max_channels, channel_base // resolution))


def check_scales(images: Sequence[Tensor], resolutions: Sequence[int],
                 channels: int, owner: str) -> None:
    """Check that a list of multi-scale images matches the scales of a network.

    Args:
        images (Sequence[Tensor]): Images, low to high resolution.
        resolutions (Sequence[int]): The resolutions the network expects.
        channels (int): Image channels the network expects.
        owner (str): Class name used in the message.
    """
    if not isinstance(images, (list, tuple)):
        raise TypeError(
            f'{owner} takes a list of images, one per scale ({resolutions}), '
            f'low to high, but got {type(images).__name__}; build it with '
            'msg_plugin.image_pyramid or the generator with return_scales=True.')
    got = [tuple(img.shape[1:]) for img in images]
    want = [(channels, r, r) for r in resolutions]
    if got != want:
        raise ValueError(
            f'{owner} expects {len(want)} scales shaped (C, H, W) = {want}, '
            f'low to high, but got {len(got)}: {got}. Build the generator and '
            'discriminator for the same resolution, img_channels and scales.')
