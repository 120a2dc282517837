# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-StyleGAN discriminator: StyleGAN's discriminator reading every scale."""
from typing import List, Optional, Sequence

import torch.nn as nn
from mmagic.models.editors.pggan import (EqualizedLRConvDownModule,
                                         EqualizedLRConvModule,
                                         EqualizedLRLinearModule)
from mmagic.models.editors.stylegan1.stylegan1_modules import Blur
from mmagic.registry import MODELS

from .multi_scale_discriminator import MultiScaleDiscriminator

LRELU = dict(type='LeakyReLU', negative_slope=0.2)


@MODELS.register_module()
class MSGStyleDiscriminator(MultiScaleDiscriminator):
    """The MSG-StyleGAN discriminator (the reference code's ``D_basic``).

    StyleGAN's discriminator with a combine function per scale: the full
    resolution enters through a 1x1 from-RGB with LReLU; every block is
    ``[phi] -> MinibatchStdDev -> conv3x3 c(r) -> LReLU -> blur [1, 2, 1] ->
    conv3x3 stride 2 to c(r/2) -> LReLU`` (mmagic's ``EqualizedLRConvDownModule``,
    whose fused average pooling stands in for the reference code's conv + 2x2
    box downscale); the 4x4 critic is ``[phi] -> MinibatchStdDev -> conv3x3 ->
    dense c(4) -> dense 1``. phi_cat_lin is the default, the paper's best for
    MSG-StyleGAN (Table 5).

    Args:
        in_scale (int): Input (highest) resolution, a power of two >= 8.
        img_channels (int): Image channels (1 grey, 3 RGB). Defaults to 3.
        channel_base (int): Widths are ``min(max_channels, channel_base // r)``.
            Defaults to 16384 (paper).
        max_channels (int): See ``channel_base``. Defaults to 512 (paper).
        combine (dict): Config of phi. Defaults to ``CatLinCombine``.
        msg_scales (Sequence[int], optional): Resolutions below ``in_scale``
            that are merged; None (default) for all, ``[]`` for none.
        blur_kernel (Sequence[int]): Blur before downsampling. Defaults to
            ``(1, 2, 1)``.
        mbstd_cfg (dict, optional): Arguments of ``MiniBatchStddevLayer``.
            Defaults to ``dict(group_size=4)``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_scale: int,
                 img_channels: int = 3,
                 channel_base: int = 16384,
                 max_channels: int = 512,
                 combine: Optional[dict] = None,
                 msg_scales: Optional[Sequence[int]] = None,
                 blur_kernel: Sequence[int] = (1, 2, 1),
                 mbstd_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.blur_kernel = list(blur_kernel)
        super().__init__(in_scale, img_channels, channel_base, max_channels,
                         combine or dict(type='CatLinCombine'), msg_scales,
                         mbstd_cfg, init_cfg)

    def make_from_rgb(self, out_channels: int) -> nn.Module:
        """1x1 from-RGB with bias and LReLU (StyleGAN)."""
        return EqualizedLRConvModule(
            self.img_channels, out_channels, kernel_size=1, act_cfg=LRELU)

    def make_block(self, resolution: int, in_channels: int) -> List[nn.Module]:
        """conv, blur, strided conv; conv and two dense layers at 4x4."""
        width = self.width(resolution)
        conv = EqualizedLRConvModule(
            in_channels, width, kernel_size=3, padding=1, act_cfg=LRELU)
        if resolution > 4:
            return [
                conv,
                Blur(self.blur_kernel, pad=(1, 1)),
                EqualizedLRConvDownModule(
                    width,
                    self.width(resolution // 2),
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    act_cfg=LRELU)
            ]
        return [
            conv,
            nn.Flatten(),
            EqualizedLRLinearModule(width * 16, width),
            nn.LeakyReLU(0.2),
            EqualizedLRLinearModule(width, 1, equalized_lr_cfg=dict(gain=1.))
        ]
