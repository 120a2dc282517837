# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Gradient penalties over every scale the discriminator reads.

mmagic's ``gradient_penalty_loss`` and ``r1_gradient_penalty_loss`` take one tensor;
these take the list of scales and reduce to them exactly when there is one scale
(with ``norm_mode='HWC'``: the norm is over each sample's C*H*W values).
"""
from typing import Callable, List, Sequence

import torch
from torch import Tensor, autograd

from .pyramid import image_pyramid


def _input_gradients(pred: Tensor, inputs: Sequence[Tensor],
                     loss_scaler=None) -> List[Tensor]:
    """d(sum(pred))/d(inputs), kept in the graph; unscaled if AMP scaled it."""
    if loss_scaler is not None:
        pred = loss_scaler.scale(pred)
    grads = autograd.grad(pred.sum(), list(inputs), create_graph=True)
    if loss_scaler is not None:
        grads = [g / loss_scaler.get_scale() for g in grads]
    return list(grads)


def multi_scale_gradient_penalty(disc: Callable,
                                 real: Sequence[Tensor],
                                 fake: Sequence[Tensor],
                                 loss_scaler=None) -> Tensor:
    """WGAN-GP penalty averaged over the scales (paper section 4, MSG-ProGAN).

    One interpolation factor ``eps ~ U[0, 1]`` per sample is drawn once and shared
    by every scale (the interpolated point must be one multi-scale image);
    ``x_s = eps * real_s + (1 - eps) * fake_s``; the penalty is
    ``mean_s mean_n (||d D / d x_s[n]||_2 - 1)^2``.

    Args:
        disc (callable): The discriminator, called on the list of scales.
        real (Sequence[Tensor]): Real images per scale, low to high.
        fake (Sequence[Tensor]): Fake images per scale, same shapes.
        loss_scaler (GradScaler, optional): AMP scaler of the D optimizer.

    Returns:
        Tensor: The penalty (a scalar).
    """
    top = real[-1]
    eps = torch.rand(top.shape[0], 1, 1, 1, device=top.device, dtype=top.dtype)
    points = [(eps * r + (1 - eps) * f.detach()).requires_grad_(True)
              for r, f in zip(real, fake)]
    grads = _input_gradients(disc(points), points, loss_scaler)
    return torch.stack([(g.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
                        for g in grads]).mean()


def r1_inputs(real: Sequence[Tensor], mode: str = 'total') -> List[Tensor]:
    """Real scales prepared for :func:`multi_scale_r1_penalty`.

    Two ways to take the gradient with respect to a pyramid (spec section 3.2):

    - ``'total'`` (the MSG-StyleGAN reference code): only the full-resolution image
      is a leaf and the coarser scales are pooled from it in the graph, so the
      gradient at a scale also counts its paths through the coarser copies made
      from it (the total derivative); only the 4x4 term is a pure partial.
    - ``'partial'``: every scale is its own leaf, so each gradient is the partial
      derivative of D with respect to that input alone.

    Both equal the ordinary R1 with a single scale.

    Args:
        real (Sequence[Tensor]): Real images per scale, low to high.
        mode (str): ``'total'`` or ``'partial'``. Defaults to ``'total'``.

    Returns:
        list[Tensor]: Scales to feed to D and then to the penalty.
    """
    if mode == 'total':
        top = real[-1].detach().requires_grad_(True)
        return image_pyramid(top, [r.shape[-1] for r in real])
    if mode == 'partial':
        return [r.detach().requires_grad_(True) for r in real]
    raise ValueError(f"r1 mode must be 'total' or 'partial', got {mode!r}.")


def multi_scale_r1_penalty(pred_real: Tensor,
                           real: Sequence[Tensor],
                           loss_scaler=None) -> Tensor:
    """R1 averaged over scales: ``mean_s mean_n ||d D(x) / d x_s[n]||^2``.

    It reuses the D pass on the real batch that the adversarial loss already made,
    so ``real`` must come from :func:`r1_inputs` and ``pred_real`` from
    ``disc(real)``.

    Args:
        pred_real (Tensor): ``disc(real)``.
        real (Sequence[Tensor]): The inputs of that pass, from :func:`r1_inputs`.
        loss_scaler (GradScaler, optional): AMP scaler of the D optimizer.

    Returns:
        Tensor: The penalty (a scalar), without the ``gamma / 2`` weight.
    """
    grads = _input_gradients(pred_real, real, loss_scaler)
    return torch.stack([g.pow(2).flatten(1).sum(1).mean()
                        for g in grads]).mean()
