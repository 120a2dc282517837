# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-ProGAN generator: a ProGAN generator that emits an image at every scale."""
from functools import partial
from typing import Callable, List, Optional, Sequence, Union

import torch.nn as nn
import torch.nn.functional as F
from mmagic.models.editors.pggan import EqualizedLRConvModule, PGGANNoiseTo2DFeat
from mmagic.models.utils import get_module_device, noise_sample_fn
from mmagic.registry import MODELS
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from .scales import channel_width, fed_resolutions, scale_resolutions


def _upsample_conv3x3(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(nearest_upsample_x2(x))`` for a 3x3, padding-1 ``conv``.

    Every output pixel of the upsampled image sees a 2x2 patch of ``x``, so the
    pair is one stride-2 transposed convolution of ``x`` whose 4x4 kernel sums
    the 3x3 taps that land on the same input pixel (the official ProGAN's
    ``fused_scale``): 4/9 of the multiply-adds, the same result up to float
    rounding. ``conv.weight`` is read after ``conv``'s forward pre-hooks
    (equalized LR) have run.
    """
    weight = F.pad(conv.weight, [1, 1, 1, 1])
    weight = weight[..., 1:, 1:] + weight[..., 1:, :-1] + \
        weight[..., :-1, 1:] + weight[..., :-1, :-1]
    return F.conv_transpose2d(
        x, weight.flip(2, 3).transpose(0, 1), conv.bias, stride=2, padding=1)


class UpsampleConvBlock(nn.Sequential):
    """``nn.Upsample(scale_factor=2, mode='nearest')``, a conv module, more
    layers: run with the upsampling folded into the first convolution.

    The layers (and so the state dict) are those of the plain
    ``nn.Sequential``; when the first conv is a 3x3, stride-1, padding-1
    ``nn.Conv2d`` inside an mmcv ``ConvModule`` (e.g. an
    ``EqualizedLRConvModule``), its conv step runs as
    :func:`_upsample_conv3x3` on the low-resolution input, the way mmcv swaps
    ``conv.forward`` for its fused conv-bn eval path, so pre-hooks, activation
    and norm run as before. Anything else runs unfused.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        upsample, module = (list(layers) + [None, None])[:2]
        conv = getattr(module, 'conv', None)
        self.folded = (
            isinstance(upsample, nn.Upsample) and upsample.mode == 'nearest'
            and upsample.size is None and upsample.scale_factor in (2, 2.,
                                                                    (2, 2))
            and isinstance(module, ConvModule)
            and not module.with_explicit_padding
            and type(conv) is nn.Conv2d
            and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
            and conv.padding == (1, 1) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding_mode == 'zeros')

    def forward(self, x: Tensor) -> Tensor:
        """Upsample ``x`` ``(N, C, H, W)`` x2 and apply the layers."""
        if not self.folded:
            return super().forward(x)
        _, module, *rest = self
        module.conv.forward = partial(_upsample_conv3x3, module.conv)
        try:
            x = module(x)
        finally:
            del module.conv.forward
        for layer in rest:
            x = layer(x)
        return x


@MODELS.register_module()
class MSGProGANGenerator(BaseModule):
    """The MSG-ProGAN generator (paper Table 6), without progressive growing.

    ``z -> hypersphere norm -> dense to 4x4 -> LReLU -> PixelNorm -> conv3x3 -> LReLU
    -> PixelNorm``, then one block per doubling: nearest x2 upsample, two
    ``conv3x3 -> LReLU(0.2) -> PixelNorm`` (the upsampling runs folded into the
    first conv, see :class:`UpsampleConvBlock`). Every block of
    ``resolutions`` (all by default; see ``msg_scales``) has its own 1x1 to-RGB
    head (linear, gain 1); the heads are independent, none is summed into the
    next.
    All layers use the equalized learning rate (weights ~ N(0, 1), scaled at run
    time by ``gain / sqrt(fan_in)``, gain sqrt(2) for hidden layers).

    Choices where the sources differ (documented in the spec): the 4x4 step is
    mmagic's ``PGGANNoiseTo2DFeat`` (a dense layer with gain sqrt(2)/4 and a
    PixelNorm after it, as in the official ProGAN) rather than the reference code's
    transposed conv; latents are normalised to the hypersphere inside the
    generator, so every caller gets it; outputs are linear (no tanh) and trained
    against data in [-1, 1].

    Args:
        out_scale (int): Output resolution, a power of two >= 8.
        noise_size (int, optional): Latent size. Defaults to the 4x4 width
            (512 with the paper's widths).
        img_channels (int): Image channels (1 grey, 3 RGB). Defaults to 3.
        channel_base (int): Widths are ``min(max_channels, channel_base // r)``.
            Defaults to 16384 (paper).
        max_channels (int): See ``channel_base``. Defaults to 512 (paper).
        msg_scales (Sequence[int], optional): Lower resolutions that get a
            to-RGB head and are returned by ``return_scales`` (the multi-scale
            connections, paper Table 4); the output resolution always is.
            Defaults to None: all of them.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 out_scale: int,
                 noise_size: Optional[int] = None,
                 img_channels: int = 3,
                 channel_base: int = 16384,
                 max_channels: int = 512,
                 msg_scales: Optional[Sequence[int]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        block_scales = scale_resolutions(out_scale)
        self.resolutions = fed_resolutions(out_scale, msg_scales)
        self.out_scale = out_scale
        self.img_channels = img_channels
        widths = [
            channel_width(r, channel_base, max_channels) for r in block_scales
        ]
        self.noise_size = noise_size or widths[0]

        def conv(in_channels: int, out_channels: int) -> EqualizedLRConvModule:
            return EqualizedLRConvModule(
                in_channels,
                out_channels,
                kernel_size=3,
                padding=1,
                act_cfg=dict(type='LeakyReLU', negative_slope=0.2),
                norm_cfg=dict(type='PixelNorm'),
                order=('conv', 'act', 'norm'))

        self.noise2feat = PGGANNoiseTo2DFeat(self.noise_size, widths[0])
        self.blocks = nn.ModuleList([conv(widths[0], widths[0])])
        for in_ch, out_ch in zip(widths[:-1], widths[1:]):
            self.blocks.append(
                UpsampleConvBlock(
                    nn.Upsample(scale_factor=2, mode='nearest'),
                    conv(in_ch, out_ch), conv(out_ch, out_ch)))
        self.to_rgbs = nn.ModuleList([
            EqualizedLRConvModule(
                width,
                img_channels,
                kernel_size=1,
                act_cfg=None,
                equalized_lr_cfg=dict(gain=1.))
            for r, width in zip(block_scales, widths) if r in self.resolutions
        ])

    def forward(self,
                noise: Union[Tensor, Callable, None] = None,
                num_batches: int = 0,
                return_noise: bool = False,
                return_scales: bool = False) -> Union[Tensor, List[Tensor],
                                                      dict]:
        """Generate images.

        Args:
            noise (Tensor | callable | None): Latents ``(N, noise_size)``, a
                sampler called with the shape, or None for N(0, I).
            num_batches (int): Batch size when sampling the noise. Defaults to 0.
            return_noise (bool): Return a dict with ``fake_img`` and
                ``noise_batch``. Defaults to False.
            return_scales (bool): Return the images of every scale in
                ``resolutions``, low to high (``[4x4, ..., out_scale]`` by
                default), instead of the highest one only.
                Defaults to False, as mmagic's GANs, metrics and hooks expect.

        Returns:
            Tensor | list[Tensor] | dict: The image(s), or a dict when
            ``return_noise``.
        """
        noise_batch = noise_sample_fn(
            noise,
            num_batches=num_batches,
            noise_size=self.noise_size,
            device=get_module_device(self))
        x = self.noise2feat(noise_batch)
        images = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if return_scales and 4 << i in self.resolutions:
                images.append(self.to_rgbs[len(images)](x))
        fake_img = images if return_scales else self.to_rgbs[-1](x)
        if return_noise:
            return dict(fake_img=fake_img, noise_batch=noise_batch)
        return fake_img
