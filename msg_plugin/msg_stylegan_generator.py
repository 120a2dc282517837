# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-StyleGAN generator: StyleGAN-1 synthesis emitting an image per scale."""
import random
from typing import Callable, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmagic.models.editors.pggan import EqualizedLRConvModule, PixelNorm
from mmagic.models.editors.stylegan1.stylegan1_modules import (
    EqualLinearActModule, NoiseInjection, StyleConv)
from mmagic.models.editors.stylegan1.stylegan_utils import get_mean_latent
from mmagic.models.utils import get_module_device, noise_sample_fn
from mmagic.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from .msg_progan_generator import UpsampleConvBlock
from .scales import channel_width, fed_resolutions, scale_resolutions

Styles = Union[Tensor, Sequence[Tensor], Callable, None]


class ChannelNoiseInjection(NoiseInjection):
    """mmagic's ``NoiseInjection`` with one learned weight per channel.

    StyleGAN-1 scales its per-pixel noise map by a learned weight per channel,
    initialised to zero; mmagic's module learns one scalar.

    Args:
        channels (int): Feature channels.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))


@MODELS.register_module()
class MSGStyleGenerator(BaseModule):
    """The MSG-StyleGAN generator (paper section 4; reference TF code).

    StyleGAN-1 without progressive growing: z -> PixelNorm -> ``num_mlps``
    equalized-LR dense layers (lr multiplier 0.01, LReLU) -> w, broadcast to the
    ``2 * (log2(out_size) - 1)`` style inputs; synthesis from a learned 4x4
    constant through mmagic's ``StyleConv`` blocks (upsample + conv3x3 + blur,
    the upsampling folded into the conv as in :class:`UpsampleConvBlock`;
    transposed conv from 128 px on as in StyleGAN; per-pixel noise with a learned
    weight per channel; LReLU; AdaIN). Every block has its own 1x1 to-RGB (linear,
    gain 1) whose outputs are independent, not summed as in StyleGAN2.

    The truncation trick uses ``w_avg``, a running average of w tracked during
    training (beta 0.995); it is off by default and for metrics. Style mixing is
    available at inference (two latents and a crossover layer) but the
    mixing regularisation is not used in training: the paper (section 4) drops it
    because a mixed style at a coarse layer would show in every finer output the
    discriminator reads, which the multi-scale connections already regularise.

    Args:
        out_size (int): Output resolution, a power of two >= 8.
        style_channels (int): Size of z and w. Defaults to 512.
        noise_size (int, optional): Must equal ``style_channels`` if given
            (mmagic's GAN models pass it). Defaults to None.
        img_channels (int): Image channels (1 grey, 3 RGB). Defaults to 3.
        channel_base (int): Widths are ``min(max_channels, channel_base // r)``.
            Defaults to 16384 (paper).
        max_channels (int): See ``channel_base``. Defaults to 512 (paper).
        num_mlps (int): Layers of the mapping network. Defaults to 8.
        lr_mlp (float): Learning-rate multiplier of the mapping. Defaults to 0.01.
        blur_kernel (Sequence[int]): Blur after upsampling. Defaults to
            ``(1, 2, 1)``.
        w_avg_beta (float): Decay of the tracked average w. Defaults to 0.995.
        msg_scales (Sequence[int], optional): Lower resolutions that get a
            to-RGB head and are returned by ``return_scales`` (the multi-scale
            connections, paper Table 4); the output resolution always is.
            Defaults to None: all of them.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 out_size: int,
                 style_channels: int = 512,
                 noise_size: Optional[int] = None,
                 img_channels: int = 3,
                 channel_base: int = 16384,
                 max_channels: int = 512,
                 num_mlps: int = 8,
                 lr_mlp: float = 0.01,
                 blur_kernel: Sequence[int] = (1, 2, 1),
                 w_avg_beta: float = 0.995,
                 msg_scales: Optional[Sequence[int]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if noise_size not in (None, style_channels):
            raise ValueError(
                f'noise_size={noise_size} differs from style_channels='
                f'{style_channels}: z and w have the same size in StyleGAN; '
                'set only style_channels.')
        block_scales = scale_resolutions(out_size)
        self.resolutions = fed_resolutions(out_size, msg_scales)
        self.out_size = out_size
        self.style_channels = self.noise_size = style_channels
        self.img_channels = img_channels
        self.w_avg_beta = w_avg_beta
        self.num_latents = 2 * len(block_scales)

        self.style_mapping = nn.Sequential(
            PixelNorm(), *[
                EqualLinearActModule(
                    style_channels,
                    style_channels,
                    equalized_lr_cfg=dict(lr_mul=lr_mlp, gain=1.),
                    act_cfg=dict(type='LeakyReLU', negative_slope=0.2))
                for _ in range(num_mlps)
            ])
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channels = channel_width(4, channel_base, max_channels)
        for r in block_scales:
            width = channel_width(r, channel_base, max_channels)
            conv = StyleConv(
                in_channels,
                width,
                3,
                style_channels,
                initial=r == 4,
                blur_kernel=list(blur_kernel),
                upsample=True,
                fused=r >= 128)
            conv.noise_injector1 = ChannelNoiseInjection(width)
            conv.noise_injector2 = ChannelNoiseInjection(width)
            if isinstance(conv.conv1, nn.Sequential) and isinstance(
                    conv.conv1[0], nn.Upsample):  # below 128 px: fold it
                conv.conv1 = UpsampleConvBlock(*conv.conv1)
            self.convs.append(conv)
            if r in self.resolutions:
                self.to_rgbs.append(
                    EqualizedLRConvModule(
                        width,
                        img_channels,
                        kernel_size=1,
                        act_cfg=None,
                        equalized_lr_cfg=dict(gain=1.)))
            in_channels = width
            for i in range(2):  # fixed noise maps, for randomize_noise=False
                self.register_buffer(
                    f'injected_noise_{len(self.convs) * 2 - 2 + i}',
                    torch.randn(1, 1, r, r))
        self.register_buffer('w_avg', torch.zeros(style_channels))

    def get_mean_latent(self, num_samples: int = 4096, **kwargs) -> Tensor:
        """Average w of ``num_samples`` fresh latents (mmagic's helper)."""
        return get_mean_latent(self, num_samples, **kwargs)

    def _per_layer_latents(self, ws: List[Tensor],
                           inject_index: Optional[int]) -> tuple:
        """Broadcast one or two w to ``(N, num_latents, C)``, mixing at a layer."""
        if len(ws) == 1:
            w = ws[0]
            if w.ndim == 2:
                w = w[:, None].expand(-1, self.num_latents, -1)
            return w, None
        if inject_index is None:
            inject_index = random.randint(1, self.num_latents - 1)
        first = ws[0][:, None].expand(-1, inject_index, -1)
        second = ws[1][:, None].expand(-1, self.num_latents - inject_index, -1)
        return torch.cat([first, second], dim=1), inject_index

    def forward(self,
                styles: Styles = None,
                num_batches: int = -1,
                return_noise: bool = False,
                return_latents: bool = False,
                inject_index: Optional[int] = None,
                truncation: float = 1.,
                truncation_latent: Optional[Tensor] = None,
                truncation_cutoff: Optional[int] = None,
                input_is_latent: bool = False,
                injected_noise: Optional[List[Tensor]] = None,
                randomize_noise: bool = True,
                return_scales: bool = False) -> Union[Tensor, List[Tensor],
                                                      dict]:
        """Generate images.

        Args:
            styles (Tensor | list[Tensor] | callable | None): z ``(N, C)`` (or w
                with ``input_is_latent``; w may also be ``(N, num_latents, C)``),
                a list of two for style mixing, a sampler, or None for N(0, I).
            num_batches (int): Batch size when sampling. Defaults to -1.
            return_noise (bool): Return a dict with ``fake_img``, ``latent``,
                ``inject_index`` and ``noise_batch``. Defaults to False.
            return_latents (bool): Same dict as ``return_noise``.
            inject_index (int, optional): Crossover layer for two styles: layers
                below it take the first, the rest the second. Random if None.
            truncation (float): psi; 1 disables truncation. Defaults to 1.
            truncation_latent (Tensor, optional): Centre of the truncation;
                defaults to the tracked ``w_avg``.
            truncation_cutoff (int, optional): Truncate only the first this many
                style inputs. Defaults to None (all).
            input_is_latent (bool): ``styles`` are w, not z. Defaults to False.
            injected_noise (list[Tensor], optional): One noise map per layer.
            randomize_noise (bool): Fresh noise maps when ``injected_noise`` is
                None; else the fixed buffers. Defaults to True.
            return_scales (bool): Return every scale of ``resolutions``, low to
                high, instead of the highest only (the default, as mmagic
                expects).

        Returns:
            Tensor | list[Tensor] | dict: The image(s), or a dict.
        """
        device = get_module_device(self)
        if isinstance(styles, (list, tuple)):
            codes = [s.to(device) for s in styles]
        elif input_is_latent:
            codes = [styles.to(device)]
        else:
            codes = [
                noise_sample_fn(
                    styles,
                    num_batches=num_batches,
                    noise_size=self.style_channels,
                    device=device)
            ]
        if len(codes) not in (1, 2):
            raise ValueError(f'Give one or two styles, got {len(codes)}.')
        ws = codes if input_is_latent else [self.style_mapping(z) for z in codes]
        if self.training and not input_is_latent:
            with torch.no_grad():
                self.w_avg.lerp_(ws[0].mean(0), 1 - self.w_avg_beta)
        latent, inject_index = self._per_layer_latents(ws, inject_index)
        if truncation < 1:
            centre = self.w_avg if truncation_latent is None \
                else truncation_latent.reshape(1, 1, -1)
            cutoff = self.num_latents if truncation_cutoff is None \
                else truncation_cutoff
            layer = torch.arange(self.num_latents, device=device)
            psi = torch.where(layer < cutoff, truncation, 1.)[None, :, None]
            latent = centre + psi * (latent - centre)
        if injected_noise is None:
            injected_noise = [
                None if randomize_noise else getattr(self,
                                                     f'injected_noise_{i}')
                for i in range(self.num_latents)
            ]

        x, images = latent, []
        for i, conv in enumerate(self.convs):
            x = conv(
                x,
                latent[:, 2 * i],
                latent[:, 2 * i + 1],
                noise1=injected_noise[2 * i],
                noise2=injected_noise[2 * i + 1])
            if return_scales and 4 << i in self.resolutions:
                images.append(self.to_rgbs[len(images)](x))
        fake_img = images if return_scales else self.to_rgbs[-1](x)
        if return_noise or return_latents:
            return dict(
                fake_img=fake_img,
                latent=latent,
                inject_index=inject_index,
                noise_batch=None if input_is_latent else codes[0])
        return fake_img
