# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The real-image pyramid: one real image per scale the discriminator reads."""
from typing import List, Sequence

import torch.nn.functional as F
from torch import Tensor


def image_pyramid(images: Tensor, resolutions: Sequence[int]) -> List[Tensor]:
    """Downsample a batch to every requested resolution by 2x2 average pooling.

    Repeated 2x2 pooling equals one average pooling with kernel ``2**k`` (reference
    code, spec section 4.2), and is cheaper. The pooling is differentiable, so a
    pyramid built from a tensor that requires grad carries the total derivative
    back to it (used by the "total" R1 penalty).

    Args:
        images (Tensor): Batch ``(N, C, R, R)`` at the highest resolution.
        resolutions (Sequence[int]): Resolutions wanted, low to high; each divides
            ``R`` by a power of two. ``R`` itself may be included.

    Returns:
        list[Tensor]: One batch per requested resolution, low to high.
    """
    size = images.shape[-1]
    if images.shape[-2] != size or any(size % r or (size // r) & (size // r - 1)
                                       for r in resolutions):
        raise ValueError(
            f'Real images of size {tuple(images.shape[-2:])} cannot be pooled '
            f'to the scales {list(resolutions)}: the data must be square at '
            'the generator\'s output resolution. Add a Resize transform to '
            'the data pipeline or change the model\'s resolution.')
    lowest, pyramid = min(resolutions), {}
    while True:
        if size in resolutions:
            pyramid[size] = images
        if size == lowest:
            break
        images = F.avg_pool2d(images, 2)
        size //= 2
    return [pyramid[r] for r in resolutions]
