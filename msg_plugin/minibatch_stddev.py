# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MinibatchStdDev with closed-form first and second derivatives."""
import torch
from mmagic.models.editors.pggan import MiniBatchStddevLayer
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable


class _GroupStdGrad(Function):
    """``dL/dx`` of :class:`_GroupStd` given ``dL/ds``, differentiable once
    more (the gradient penalties' double backward).

    With ``u = (x - mean_g x) / sigma`` (``sigma`` per member, pixel and
    channel, over the group ``g``), ``K = C * H * W`` and ``G`` the group
    size: ``dL/dx = dL/ds * u / (G * K)``. Its derivative, for an upstream
    ``w`` and ``v = w * dL/ds / (G * K)``, is
    ``(v - mean_g v - u * mean_g(v * u)) / sigma`` for ``x`` and
    ``sum(w * u) / (G * K)`` for ``dL/ds``.
    """

    @staticmethod
    def forward(ctx, grad_s: Tensor, x: Tensor, u: Tensor,
                sigma: Tensor) -> Tensor:
        ctx.save_for_backward(grad_s, u, sigma)
        scale = u[0].numel() / u.shape[1] * u.shape[0]  # G * K
        return (u * (grad_s / scale).view(1, -1, 1, 1, 1)).reshape(x.shape)

    @staticmethod
    @once_differentiable
    def backward(ctx, w: Tensor):
        grad_s, u, sigma = ctx.saved_tensors
        scale = u[0].numel() / u.shape[1] * u.shape[0]
        w = w.reshape(u.shape)
        grad_grad_s = (w * u).sum(dim=(0, 2, 3, 4)) / scale
        v = w * (grad_s / scale).view(1, -1, 1, 1, 1)
        grad_x = (v - v.mean(0) - u * (v * u).mean(0)) / sigma
        return grad_grad_s, grad_x.reshape(w.shape[0] * w.shape[1],
                                           *w.shape[2:]), None, None


class _GroupStd(Function):
    """``s[m] = mean_{c,h,w} sqrt(var_g(x[g, m]) + eps)``: the statistic of
    mmagic's ``MiniBatchStddevLayer``, computed by the same operations."""

    @staticmethod
    def forward(ctx, x: Tensor, group_size: int, eps: float) -> Tensor:
        n, c, h, w = x.shape
        dev = x.reshape(group_size, -1, c, h, w)
        dev = dev - dev.mean(dim=0, keepdim=True)
        sigma = torch.sqrt(dev.pow(2).mean(dim=0) + eps)
        ctx.save_for_backward(x, dev / sigma, sigma)
        return sigma.mean(dim=(1, 2, 3))

    @staticmethod
    def backward(ctx, grad_s: Tensor):
        x, u, sigma = ctx.saved_tensors
        return _GroupStdGrad.apply(grad_s, x, u, sigma), None, None


class MiniBatchStdDev(MiniBatchStddevLayer):
    """mmagic's ``MiniBatchStddevLayer`` with a cheap backward.

    The same output (same arguments, checks and operations), but the
    statistic's gradient is the closed form of :class:`_GroupStd` and its
    derivative that of :class:`_GroupStdGrad`, instead of autograd through
    every elementwise step: MSG discriminators open every block with this
    layer, and the gradient penalty differentiates it twice, which made it
    about a seventh of an MSG-ProGAN iteration at 128x128. Equal to the
    host's to float rounding, to the second derivative
    (``tests/test_equivalent_fast_paths.py``); ``gather_all_batch=True``
    runs the host's code.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Append the group standard deviation to ``x`` ``(N, C, H, W)``."""
        if self.gather_all_batch:
            return super().forward(x)
        n, _, h, w = x.shape
        if n > self.group_size and n % self.group_size:
            return super().forward(x)  # the host's assertion message
        group = min(n, self.group_size)
        stat = _GroupStd.apply(x, group, self.eps)
        stat = stat.view(1, -1, 1, 1, 1).expand(group, -1, 1, h, w)
        return torch.cat([x, stat.reshape(n, 1, h, w)], dim=1)
