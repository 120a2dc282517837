# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The combine functions phi that merge a scale's image into the discriminator.

Paper Eqs. 11-13, with ``x1`` the image at a block's resolution, ``x2`` the block's
incoming features and ``r'`` a 1x1 convolution:

- :class:`SimpleCombine`: ``phi_simple(x1, x2) = [x1; x2]`` (best for MSG-ProGAN).
- :class:`LinCatCombine`: ``phi_lin_cat(x1, x2) = [r'(x1); x2]``.
- :class:`CatLinCombine`: ``phi_cat_lin(x1, x2) = r'([x1; x2])`` (best for
  MSG-StyleGAN).

Each is built with the feature and image channel counts of its block and tells the
block its output width through ``out_channels``.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmagic.models.editors.pggan import EqualizedLRConvModule
from mmagic.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SimpleCombine(nn.Module):
    """phi_simple: concatenate the image to the features (image first).

    Args:
        feat_channels (int): Channels of the incoming features.
        img_channels (int): Channels of the image.
    """

    def __init__(self, feat_channels: int, img_channels: int) -> None:
        super().__init__()
        self.out_channels = feat_channels + img_channels

    def forward(self, img: Tensor, feat: Tensor) -> Tensor:
        """Merge ``img`` into ``feat``.

        Args:
            img (Tensor): Image ``(N, img_channels, H, W)``.
            feat (Tensor): Features ``(N, feat_channels, H, W)``.

        Returns:
            Tensor: ``(N, out_channels, H, W)``.
        """
        return torch.cat([img, feat], dim=1)


@MODELS.register_module()
class LinCatCombine(nn.Module):
    """phi_lin_cat: project the image with a 1x1 conv, then concatenate.

    The projection is linear (no activation), equalized-LR, with bias; the paper's
    supplementary maps the image to half of the block's width.

    Args:
        feat_channels (int): Channels of the incoming features.
        img_channels (int): Channels of the image.
        proj_channels (int, optional): Width of ``r'(x1)``. Defaults to
            ``feat_channels // 2`` (at least 1).
    """

    def __init__(self,
                 feat_channels: int,
                 img_channels: int,
                 proj_channels: Optional[int] = None) -> None:
        super().__init__()
        proj_channels = proj_channels or max(1, feat_channels // 2)
        self.proj = EqualizedLRConvModule(
            img_channels,
            proj_channels,
            kernel_size=1,
            act_cfg=None,
            equalized_lr_cfg=dict(gain=1.))
        self.out_channels = feat_channels + proj_channels

    def forward(self, img: Tensor, feat: Tensor) -> Tensor:
        """Merge ``img`` into ``feat``; see :meth:`SimpleCombine.forward`."""
        return torch.cat([self.proj(img), feat], dim=1)


@MODELS.register_module()
class CatLinCombine(nn.Module):
    """phi_cat_lin: concatenate, then mix with a 1x1 conv back to the block width.

    As in the MSG-StyleGAN reference code: equalized LR with gain sqrt(2), no bias,
    no activation.

    Args:
        feat_channels (int): Channels of the incoming features.
        img_channels (int): Channels of the image.
    """

    def __init__(self, feat_channels: int, img_channels: int) -> None:
        super().__init__()
        self.mix = EqualizedLRConvModule(
            feat_channels + img_channels,
            feat_channels,
            kernel_size=1,
            bias=False,
            act_cfg=None,
            equalized_lr_cfg=dict(gain=2**0.5))
        self.out_channels = feat_channels

    def forward(self, img: Tensor, feat: Tensor) -> Tensor:
        """Merge ``img`` into ``feat``; see :meth:`SimpleCombine.forward`."""
        return self.mix(torch.cat([img, feat], dim=1))
