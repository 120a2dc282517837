# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-StyleGAN discriminator: StyleGAN's discriminator reading every scale."""
from typing import List, Sequence

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
        blur_kernel (Sequence[int]): Blur before downsampling. Defaults to
            ``(1, 2, 1)``.
        **kwargs: The other arguments of :class:`MultiScaleDiscriminator`
            (``img_channels``, widths, ``combine``, ``msg_scales``,
            ``mbstd_cfg``).
    """

    default_combine = dict(type='CatLinCombine')

    def __init__(self,
                 in_scale: int,
                 blur_kernel: Sequence[int] = (1, 2, 1),
                 **kwargs) -> None:
        self.blur_kernel = list(blur_kernel)
        super().__init__(in_scale, **kwargs)

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
