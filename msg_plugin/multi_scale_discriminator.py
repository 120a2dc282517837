# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""What every MSG discriminator shares: scales, combine functions, the loop."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.models.editors.pggan import MiniBatchStddevLayer
from mmagic.models.editors.stylegan1.stylegan1_modules import (Blur,
                                                               make_kernel)
from mmagic.registry import MODELS
from mmcv.ops.upfirdn2d import upfirdn2d
from mmengine.model import BaseModule
from torch import Tensor

from .scales import (channel_width, check_scales, fed_resolutions,
                     scale_resolutions)


class PooledBlur(nn.Module):
    """mmagic's ``Blur`` with the [1, 2, 1] kernel as two 2x2 average pools.

    ``[1, 2, 1] x [1, 2, 1] / 16`` is the 2x2 box filter applied twice, so with
    padding (1, 1) the blur is ``avg_pool(avg_pool(pad(x), 2, 1), 2, 1)``: the
    same output up to float rounding. The reason is the R1 penalty: it
    differentiates the discriminator twice, and torch's double backward of a
    depthwise convolution (mmagic's reference ``upfirdn2d`` on CPU) runs one
    convolution per channel (512 per blur at the paper's widths), about a
    sixth of an MSG-StyleGAN iteration on CPU. Pooling has cheap linear
    derivatives of every order. Other kernels or paddings keep ``upfirdn2d``.
    The ``kernel`` buffer is kept, so state dicts are unchanged.

    Args:
        blur (Blur): The mmagic module to stand in for.
    """

    def __init__(self, blur: Blur) -> None:
        super().__init__()
        self.register_buffer('kernel', blur.kernel)
        self.pad = blur.pad
        self.pooled = tuple(blur.pad) == (1, 1) and torch.equal(
            blur.kernel.cpu(), make_kernel([1, 2, 1]))

    def forward(self, x: Tensor) -> Tensor:
        """Blur ``x`` ``(N, C, H, W)``; same shape out."""
        if not self.pooled:  # what Blur.forward does
            return upfirdn2d(x, self.kernel.to(x.dtype), padding=self.pad)
        x = F.pad(x, [1, 1, 1, 1])
        return F.avg_pool2d(F.avg_pool2d(x, 2, stride=1), 2, stride=1)


class MultiScaleDiscriminator(BaseModule):
    """Base of the MSG discriminators: one block per resolution, high to low.

    The full-resolution image enters through ``make_from_rgb``; the image of every
    scale in ``msg_scales`` is merged by the combine function phi into the input of
    the block of its resolution; a MinibatchStdDev layer opens every block. A
    subclass gives the layers of the from-RGB and of each block; an mmagic
    ``Blur`` among a block's layers runs as :class:`PooledBlur`.

    MinibatchStdDev under DDP: mmagic's ``MiniBatchStddevLayer`` groups the
    samples of the batch it is given, i.e. of each process's own batch (the
    per-process ``batch_size``, not the global one); groups never span
    processes. Its ``gather_all_batch=True`` all-gathers the batch first but
    then returns the whole gathered batch, so it does not fit these
    discriminators: ours keep the default ``gather_all_batch=False``. The
    layer asserts that the per-process batch (real, fake and gradient-penalty
    batches alike) is at most the group size (then one group of all of it) or
    a multiple of it; with group size 4, use per-process batches of 1-4 or
    multiples of 4.

    Args:
        in_scale (int): Input (highest) resolution, a power of two >= 8.
        img_channels (int): Image channels (1 grey, 3 RGB). Defaults to 3.
        channel_base (int): Widths are ``min(max_channels, channel_base // r)``.
            Defaults to 16384 (paper).
        max_channels (int): See ``channel_base``. Defaults to 512 (paper).
        combine (dict, optional): Config of phi, built per merged scale with
            ``feat_channels`` and ``img_channels``. Defaults to the class's
            ``default_combine``.
        msg_scales (Sequence[int], optional): Resolutions below ``in_scale`` whose
            images are merged (the multi-scale connections; see
            :func:`fed_resolutions`). Defaults to None: all of them; ``[]``
            makes a single-scale discriminator. The blocks of the other
            resolutions have no phi and read ``c(r) + 1`` channels.
        mbstd_cfg (dict, optional): Arguments of mmagic's
            ``MiniBatchStddevLayer``; group size 4 by default.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    default_combine = dict(type='SimpleCombine')

    def __init__(self,
                 in_scale: int,
                 img_channels: int = 3,
                 channel_base: int = 16384,
                 max_channels: int = 512,
                 combine: Optional[dict] = None,
                 msg_scales: Optional[Sequence[int]] = None,
                 mbstd_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        combine = combine or self.default_combine
        self.in_scale = in_scale
        self.img_channels = img_channels
        self.channel_base = channel_base
        self.max_channels = max_channels
        block_scales = scale_resolutions(in_scale)
        self.resolutions = fed_resolutions(in_scale, msg_scales)
        mbstd_cfg = dict(group_size=4, **(mbstd_cfg or {}))
        self.mbstd_group_size = mbstd_cfg['group_size']

        self.from_rgb = self.make_from_rgb(self.width(in_scale))
        self.combines = nn.ModuleDict()
        self.blocks = nn.ModuleList()
        for r in reversed(block_scales):
            in_channels = self.width(r)
            if r in self.resolutions[:-1]:
                phi = MODELS.build(
                    combine,
                    default_args=dict(
                        feat_channels=in_channels, img_channels=img_channels))
                self.combines[str(r)] = phi
                in_channels = phi.out_channels
            self.blocks.append(
                nn.Sequential(
                    MiniBatchStddevLayer(**mbstd_cfg), *[
                        PooledBlur(layer) if type(layer) is Blur else layer
                        for layer in self.make_block(r, in_channels + 1)
                    ]))

    def init_weights(self) -> None:
        """Keep the construction-time init unless ``init_cfg`` asks otherwise.

        The equalized-LR layers are initialised N(0, 1) when built. mmengine's
        default ``init_weights`` (called by the Runner) would run mmcv's
        ``ConvModule.init_weights`` on the direct child ``from_rgb`` and overwrite
        its weight with a Kaiming init, silently shrinking that layer.
        """
        if self.init_cfg:
            super().init_weights()

    def width(self, resolution: int) -> int:
        """Width ``c(r)`` of this network at a resolution."""
        return channel_width(resolution, self.channel_base, self.max_channels)

    def make_from_rgb(self, out_channels: int) -> nn.Module:
        """The layer reading the full-resolution image."""
        raise NotImplementedError

    def make_block(self, resolution: int, in_channels: int) -> List[nn.Module]:
        """Layers of the block at ``resolution`` after its MinibatchStdDev.

        Args:
            resolution (int): The block's input resolution.
            in_channels (int): Its input channels (MinibatchStdDev included).

        Returns:
            list[nn.Module]: The layers; the 4x4 block ends with the score.
        """
        raise NotImplementedError

    @property
    def block_in_channels(self) -> List[int]:
        """Input channels of each block's first conv, high to low resolution."""
        return [block[1].conv.in_channels for block in self.blocks]

    def forward(self, images: Sequence[Tensor]) -> Tensor:
        """Score a batch given at every scale this discriminator reads.

        Args:
            images (Sequence[Tensor]): One batch per scale of ``resolutions``,
                low to high, e.g. from the generator with ``return_scales=True``.

        Returns:
            Tensor: Critic scores ``(N, 1)``.
        """
        check_scales(images, self.resolutions, self.img_channels,
                     type(self).__name__)
        n, group = images[-1].shape[0], self.mbstd_group_size
        if n > group and n % group:
            raise ValueError(
                f'Batch size {n} is not divisible by the MinibatchStdDev group '
                f'size {group}: use a batch size that is a multiple of {group} '
                '(or at most it), or change mbstd_cfg.group_size.')
        by_resolution = dict(zip(self.resolutions, images))
        x = self.from_rgb(images[-1])
        resolution = self.in_scale
        for block in self.blocks:
            if str(resolution) in self.combines:
                x = self.combines[str(resolution)](by_resolution[resolution], x)
            x = block(x)
            resolution //= 2
        return x
