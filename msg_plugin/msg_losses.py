# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Adversarial losses of MSG-GAN; every discriminator call takes all scales.

Each loss is a registered module chosen in the model's ``loss_config`` as
``gan_loss=dict(type=...)`` and owns its regularisation. ``disc_loss`` and
``gen_loss`` return dicts for mmengine's ``parse_losses``: keys with ``loss`` are
summed and back-propagated, the others (raw scores) are only logged.
"""
from typing import Callable, Dict, List

import torch.nn as nn
import torch.nn.functional as F
from mmagic.registry import MODELS
from torch import Tensor

from .multi_scale_penalties import (multi_scale_gradient_penalty,
                                    multi_scale_r1_penalty, r1_inputs)

Scales = List[Tensor]
LossDict = Dict[str, Tensor]


@MODELS.register_module()
class MultiScaleWGANGPLoss(nn.Module):
    """WGAN-GP with the multi-scale gradient penalty and drift (MSG-ProGAN).

    ``L_D = E[D(fake)] - E[D(real)] + gp_weight * GP + drift_weight * E[D(real)^2]``,
    ``L_G = -E[D(fake)]``, GP from :func:`multi_scale_gradient_penalty`.

    Args:
        gp_weight (float): lambda. Defaults to 10.
        drift_weight (float): epsilon_drift. Defaults to 0.001.
    """

    def __init__(self, gp_weight: float = 10., drift_weight: float = 1e-3):
        super().__init__()
        self.gp_weight = gp_weight
        self.drift_weight = drift_weight

    def disc_loss(self, disc: Callable, real: Scales, fake: Scales,
                  loss_scaler=None) -> LossDict:
        """Discriminator losses; ``fake`` is detached by the caller."""
        pred_real, pred_fake = disc(real), disc(fake)
        return dict(
            loss_disc_fake=pred_fake.mean(),
            loss_disc_real=-pred_real.mean(),
            loss_gp=self.gp_weight *
            multi_scale_gradient_penalty(disc, real, fake, loss_scaler),
            loss_drift=self.drift_weight * pred_real.pow(2).mean(),
            disc_pred_real=pred_real.detach(),
            disc_pred_fake=pred_fake.detach())

    def gen_loss(self, disc: Callable, real: Scales, fake: Scales) -> LossDict:
        """Generator loss."""
        return dict(loss_gen=-disc(fake).mean())


@MODELS.register_module()
class NonSaturatingR1Loss(nn.Module):
    """Non-saturating logistic loss with the multi-scale R1 (MSG-StyleGAN).

    ``L_D = E[softplus(D(fake))] + E[softplus(-D(real))] + r1_weight / 2 * R1``,
    ``L_G = E[softplus(-D(fake))]``, R1 from :func:`multi_scale_r1_penalty` on the
    same D pass as the real term.

    Args:
        r1_weight (float): gamma. Defaults to 10.
        r1_mode (str): ``'total'`` (reference code) or ``'partial'``; see
            :func:`r1_inputs`. Defaults to ``'total'``.
    """

    def __init__(self, r1_weight: float = 10., r1_mode: str = 'total'):
        super().__init__()
        if r1_mode not in ('total', 'partial'):
            raise ValueError(
                f"r1_mode must be 'total' or 'partial', got {r1_mode!r}.")
        self.r1_weight = r1_weight
        self.r1_mode = r1_mode

    def disc_loss(self, disc: Callable, real: Scales, fake: Scales,
                  loss_scaler=None) -> LossDict:
        """Discriminator losses; ``fake`` is detached by the caller."""
        real = r1_inputs(real, self.r1_mode)
        pred_real, pred_fake = disc(real), disc(fake)
        r1 = multi_scale_r1_penalty(pred_real, real, loss_scaler)
        return dict(
            loss_disc_fake=F.softplus(pred_fake).mean(),
            loss_disc_real=F.softplus(-pred_real).mean(),
            loss_r1=self.r1_weight / 2 * r1,
            disc_pred_real=pred_real.detach(),
            disc_pred_fake=pred_fake.detach())

    def gen_loss(self, disc: Callable, real: Scales, fake: Scales) -> LossDict:
        """Generator loss."""
        return dict(loss_gen=F.softplus(-disc(fake)).mean())


@MODELS.register_module()
class RelativisticAverageHingeLoss(nn.Module):
    """Relativistic average hinge loss (the reference PyTorch code's default).

    With ``r = D(real)``, ``f = D(fake)``:
    ``L_D = E[relu(1 - (r - E f))] + E[relu(1 + (f - E r))]`` and
    ``L_G = E[relu(1 + (r - E f))] + E[relu(1 - (f - E r))]``; the generator step
    scores the real batch again with the (frozen) discriminator.
    """

    def disc_loss(self, disc: Callable, real: Scales, fake: Scales,
                  loss_scaler=None) -> LossDict:
        """Discriminator losses; ``fake`` is detached by the caller."""
        pred_real, pred_fake = disc(real), disc(fake)
        return dict(
            loss_disc_real=F.relu(1 - (pred_real - pred_fake.mean())).mean(),
            loss_disc_fake=F.relu(1 + (pred_fake - pred_real.mean())).mean(),
            disc_pred_real=pred_real.detach(),
            disc_pred_fake=pred_fake.detach())

    def gen_loss(self, disc: Callable, real: Scales, fake: Scales) -> LossDict:
        """Generator loss."""
        pred_real, pred_fake = disc(real).detach(), disc(fake)
        return dict(
            loss_gen_real=F.relu(1 + (pred_real - pred_fake.mean())).mean(),
            loss_gen_fake=F.relu(1 - (pred_fake - pred_real.mean())).mean())
