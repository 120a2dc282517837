# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-ProGAN discriminator: reads the image of every scale through phi."""
from typing import List

import torch.nn as nn
from mmagic.models.editors.pggan import (EqualizedLRConvDownModule,
                                         EqualizedLRConvModule,
                                         EqualizedLRLinearModule)
from mmagic.registry import MODELS

from .multi_scale_discriminator import MultiScaleDiscriminator


LRELU = dict(type='LeakyReLU', negative_slope=0.2)


def _conv(in_channels: int,
          out_channels: int,
          kernel_size: int = 3) -> EqualizedLRConvModule:
    return EqualizedLRConvModule(
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        padding=1 if kernel_size == 3 else 0,
        act_cfg=LRELU)


@MODELS.register_module()
class MSGProGANDiscriminator(MultiScaleDiscriminator):
    """The MSG-ProGAN discriminator (paper Table 7).

    ``a'_0 = d_0(y)``, ``a'_j = d_j(phi(o_{k-j}, a'_{j-1}))``,
    ``score = d_critic(phi(o_0, a'_{k-1}))``: the full-resolution image enters
    through a linear 1x1 from-RGB; every coarser image is merged by the combine
    function phi into the input of the block of its resolution. Each block is
    ``MinibatchStdDev -> conv3x3 -> LReLU -> conv3x3 -> LReLU -> 2x2 avg-pool``
    (widths ``c(r) -> c(r/2)``); the 4x4 critic is ``MinibatchStdDev -> conv3x3 ->
    conv4x4 (valid) -> linear``. With phi_simple and the paper's widths the block
    inputs are 35/36, 67/68, 131/132, 259/260, 515/516 channels at 512..4.

    Where the reference PyTorch code (BMSG-GAN) differs, this follows the paper:
    the widths mirror the generator's (the reference halves them), a
    MinibatchStdDev layer (group size 4) opens every block (the reference has one,
    in the last block, over the whole batch), and the full-resolution from-RGB is
    linear.

    Arguments are those of :class:`MultiScaleDiscriminator`, and:

    Args:
        fused_convdown (bool): Run each block's second conv and the pooling as
            mmagic's ``PGGANDiscriminator`` does by default (the official
            ProGAN's ``fused_scale``): ``conv3x3 -> 2x2 avg-pool -> LReLU``,
            as one stride-2 4x4 conv with 4/9 of the multiply-adds. Not the
            paper's block (it pools after the LReLU), so not the same
            function, but the same parameters and state-dict keys. Defaults
            to False (the paper).

    phi defaults to ``SimpleCombine``, the paper's best for MSG-ProGAN.
    """

    def __init__(self, *args, fused_convdown: bool = False, **kwargs) -> None:
        self.fused_convdown = fused_convdown  # read by make_block
        super().__init__(*args, **kwargs)

    def make_from_rgb(self, out_channels: int) -> nn.Module:
        """Linear 1x1 from-RGB (paper Table 7)."""
        return EqualizedLRConvModule(
            self.img_channels, out_channels, kernel_size=1, act_cfg=None)

    def make_block(self, resolution: int, in_channels: int) -> List[nn.Module]:
        """Two 3x3 convs and 2x2 average pooling; conv4x4 + linear at 4x4."""
        width = self.width(resolution)
        if resolution > 4:
            out_channels = self.width(resolution // 2)
            if self.fused_convdown:
                return [
                    _conv(in_channels, width),
                    EqualizedLRConvDownModule(
                        width, out_channels, kernel_size=3, stride=2,
                        padding=1, act_cfg=LRELU,
                        downsample=dict(type='fused_pool'))
                ]
            return [
                _conv(in_channels, width),
                _conv(width, out_channels),
                nn.AvgPool2d(2)
            ]
        return [
            _conv(in_channels, width),
            _conv(width, width, kernel_size=4),
            nn.Flatten(),
            EqualizedLRLinearModule(width, 1, equalized_lr_cfg=dict(gain=1.))
        ]
