# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-ProGAN discriminator: reads the image of every scale through phi."""
from typing import List, Optional, Sequence

import torch.nn as nn
from mmagic.models.editors.pggan import (EqualizedLRConvModule,
                                         EqualizedLRLinearModule,
                                         MiniBatchStddevLayer)
from mmagic.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from .scales import channel_width, check_scales, scale_resolutions


def _conv(in_channels: int,
          out_channels: int,
          kernel_size: int = 3) -> EqualizedLRConvModule:
    return EqualizedLRConvModule(
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        padding=1 if kernel_size == 3 else 0,
        act_cfg=dict(type='LeakyReLU', negative_slope=0.2))


@MODELS.register_module()
class MSGProGANDiscriminator(BaseModule):
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

    Args:
        in_scale (int): Input (highest) resolution, a power of two >= 8.
        img_channels (int): Image channels (1 grey, 3 RGB). Defaults to 3.
        channel_base (int): Widths are ``min(max_channels, channel_base // r)``.
            Defaults to 16384 (paper).
        max_channels (int): See ``channel_base``. Defaults to 512 (paper).
        combine (dict): Config of the combine function phi, built once per scale
            below ``in_scale`` with ``feat_channels`` and ``img_channels``.
            Defaults to ``dict(type='SimpleCombine')``.
        mbstd_cfg (dict): Arguments of mmagic's ``MiniBatchStddevLayer``.
            Defaults to ``dict(group_size=4)``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_scale: int,
                 img_channels: int = 3,
                 channel_base: int = 16384,
                 max_channels: int = 512,
                 combine: Optional[dict] = None,
                 mbstd_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.resolutions = scale_resolutions(in_scale)
        self.in_scale = in_scale
        self.img_channels = img_channels
        combine = combine or dict(type='SimpleCombine')
        mbstd_cfg = dict(group_size=4, **(mbstd_cfg or {}))
        self.mbstd_group_size = mbstd_cfg['group_size']

        def width(r: int) -> int:
            return channel_width(r, channel_base, max_channels)

        self.from_rgb = EqualizedLRConvModule(
            img_channels, width(in_scale), kernel_size=1, act_cfg=None)
        self.combines = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for r in reversed(self.resolutions):  # high to low
            in_channels = width(r)
            if r != in_scale:
                phi = MODELS.build(
                    combine,
                    default_args=dict(
                        feat_channels=width(r), img_channels=img_channels))
                self.combines.append(phi)
                in_channels = phi.out_channels
            if r > 4:
                layers = [
                    _conv(in_channels + 1, width(r)),
                    _conv(width(r), width(r // 2)),
                    nn.AvgPool2d(2)
                ]
            else:
                layers = [
                    _conv(in_channels + 1, width(4)),
                    _conv(width(4), width(4), kernel_size=4),
                    nn.Flatten(),
                    EqualizedLRLinearModule(
                        width(4), 1, equalized_lr_cfg=dict(gain=1.))
                ]
            self.blocks.append(
                nn.Sequential(MiniBatchStddevLayer(**mbstd_cfg), *layers))

    @property
    def block_in_channels(self) -> List[int]:
        """Input channels of each block's first conv, high to low resolution."""
        return [block[1].conv.in_channels for block in self.blocks]

    def forward(self, images: Sequence[Tensor]) -> Tensor:
        """Score a batch given at every scale.

        Args:
            images (Sequence[Tensor]): One batch per scale, low to high
                (``[4x4, ..., in_scale]``), as the generator returns them with
                ``return_scales=True``.

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
        x = self.from_rgb(images[-1])
        x = self.blocks[0](x)
        for img, phi, block in zip(images[-2::-1], self.combines,
                                   self.blocks[1:]):
            x = block(phi(img, x))
        return x
