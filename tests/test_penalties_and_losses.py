# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.models.losses import (gradient_penalty_loss,
                                  r1_gradient_penalty_loss)
from mmagic.registry import MODELS

from msg_plugin.multi_scale_penalties import (multi_scale_gradient_penalty,
                                              multi_scale_r1_penalty,
                                              r1_inputs)
from msg_plugin.pyramid import image_pyramid


class TinyDisc(nn.Module):
    """A small non-linear critic on one or more scales."""

    def __init__(self, resolutions=(8, )):
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(3, 4, 3, padding=1) for _ in resolutions])

    def forward(self, imgs):
        imgs = imgs if isinstance(imgs, (list, tuple)) else [imgs]
        return sum(
            F.leaky_relu(conv(x), 0.2).pow(2).mean((1, 2, 3))
            for conv, x in zip(self.convs, imgs))[:, None]


class LinearPerScale(nn.Module):
    """D(x) = sum_s <w_s, x_s>: its gradient at scale s is w_s everywhere."""

    def __init__(self, shapes):
        super().__init__()
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.randn(*s)) for s in shapes])

    def forward(self, imgs):
        return sum((w * x).flatten(1).sum(1)
                   for w, x in zip(self.weights, imgs))[:, None]


def test_pyramid_chain_equals_direct_pooling():
    img = torch.randn(2, 3, 32, 32)
    pyramid = image_pyramid(img, [4, 8, 16, 32])
    for k, level in enumerate(reversed(pyramid)):
        assert torch.allclose(level, F.avg_pool2d(img, 2**k), atol=1e-6)
    assert [p.shape[-1] for p in image_pyramid(img, [8, 32])] == [8, 32]


def test_pyramid_rejects_data_of_another_size():
    with pytest.raises(ValueError, match='Resize'):
        image_pyramid(torch.randn(2, 3, 28, 28), [4, 8, 16, 32])


def test_gradient_penalty_reduces_to_wgan_gp_at_one_scale():
    disc = TinyDisc()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    torch.manual_seed(0)
    ours = multi_scale_gradient_penalty(disc, [real], [fake])
    torch.manual_seed(0)
    host = gradient_penalty_loss(disc, real, fake, norm_mode='HWC')
    assert torch.allclose(ours, host, rtol=1e-5)


def test_gradient_penalty_shares_one_interpolation_factor():
    seen = []

    def disc(imgs):
        seen.extend(x.detach() for x in imgs)
        return LinearPerScale([x.shape[1:] for x in imgs])(imgs)

    real = [torch.randn(4, 3, r, r) for r in (4, 8, 16)]
    fake = [torch.randn(4, 3, r, r) for r in (4, 8, 16)]
    multi_scale_gradient_penalty(disc, real, fake)
    # x = eps * real + (1 - eps) * fake  =>  eps = (x - fake) / (real - fake)
    eps = [((x - f) / (r - f)).flatten(1).median(1).values
           for x, r, f in zip(seen, real, fake)]
    assert torch.allclose(eps[0], eps[1], atol=1e-4)
    assert torch.allclose(eps[0], eps[2], atol=1e-4)
    assert eps[0].std() > 0  # one factor per sample, not one per batch


def test_gradient_penalty_is_the_mean_of_per_scale_penalties():
    shapes = [(3, 4, 4), (3, 8, 8)]
    disc = LinearPerScale(shapes)
    real = [torch.randn(2, *s) for s in shapes]
    fake = [torch.randn(2, *s) for s in shapes]
    expected = torch.stack([(w.norm() - 1)**2 for w in disc.weights]).mean()
    got = multi_scale_gradient_penalty(disc, real, fake)
    assert torch.allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize('mode', ['total', 'partial'])
def test_r1_reduces_to_host_r1_at_one_scale(mode):
    disc = TinyDisc()
    real = torch.randn(4, 3, 8, 8)
    inputs = r1_inputs([real], mode)
    ours = multi_scale_r1_penalty(disc(inputs), inputs)
    host = r1_gradient_penalty_loss(disc, real, norm_mode='HWC')
    assert torch.allclose(ours, host, rtol=1e-5)


def test_r1_total_and_partial_differ_only_beyond_one_scale():
    shapes = [(3, 4, 4), (3, 8, 8)]
    disc = LinearPerScale(shapes)
    real = image_pyramid(torch.randn(2, 3, 8, 8), [4, 8])
    partial = r1_inputs(real, 'partial')
    r1_partial = multi_scale_r1_penalty(disc(partial), partial)
    w4, w8 = disc.weights
    assert torch.allclose(
        r1_partial, (w4.pow(2).sum() + w8.pow(2).sum()) / 2, rtol=1e-5)
    # total derivative at 8x8: w8 plus the 4x4 weight spread back through
    # the 2x2 average pooling (each of 4 pixels gets a quarter)
    total = r1_inputs(real, 'total')
    r1_total = multi_scale_r1_penalty(disc(total), total)
    w8_total = w8 + F.interpolate(w4[None], scale_factor=2)[0] / 4
    expected = (w4.pow(2).sum() + w8_total.pow(2).sum()) / 2
    assert torch.allclose(r1_total, expected, rtol=1e-5)
    assert not torch.allclose(r1_total, r1_partial)


def test_r1_mode_is_checked():
    with pytest.raises(ValueError, match='total'):
        MODELS.build(dict(type='NonSaturatingR1Loss', r1_mode='full'))


def scores(disc, real, fake):
    return disc(real), disc(fake)


def test_wgan_gp_loss_reduces_to_single_scale_formula():
    disc = TinyDisc()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    loss = MODELS.build(dict(type='MultiScaleWGANGPLoss'))
    torch.manual_seed(1)
    d = loss.disc_loss(disc, [real], [fake])
    torch.manual_seed(1)
    gp = gradient_penalty_loss(disc, real, fake, norm_mode='HWC')
    pr, pf = scores(disc, real, fake)
    assert torch.allclose(d['loss_disc_fake'] + d['loss_disc_real'],
                          pf.mean() - pr.mean())
    assert torch.allclose(d['loss_gp'], 10 * gp, rtol=1e-5)
    assert torch.allclose(d['loss_drift'], 1e-3 * pr.pow(2).mean())
    g = loss.gen_loss(disc, [real], [fake])
    assert torch.allclose(g['loss_gen'], -pf.mean())


def test_non_saturating_r1_loss_reduces_to_single_scale_formula():
    disc = TinyDisc()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    loss = MODELS.build(dict(type='NonSaturatingR1Loss', r1_weight=10.))
    d = loss.disc_loss(disc, [real], [fake])
    pr, pf = scores(disc, real, fake)
    assert torch.allclose(d['loss_disc_fake'], F.softplus(pf).mean())
    assert torch.allclose(d['loss_disc_real'], F.softplus(-pr).mean())
    r1 = r1_gradient_penalty_loss(disc, real, norm_mode='HWC')
    assert torch.allclose(d['loss_r1'], 5 * r1, rtol=1e-5)
    g = loss.gen_loss(disc, [real], [fake])
    assert torch.allclose(g['loss_gen'], F.softplus(-pf).mean())


def test_relativistic_average_hinge_formula():
    disc = TinyDisc()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    loss = MODELS.build(dict(type='RelativisticAverageHingeLoss'))
    pr, pf = scores(disc, real, fake)
    d = loss.disc_loss(disc, [real], [fake])
    assert torch.allclose(
        d['loss_disc_real'] + d['loss_disc_fake'],
        F.relu(1 - (pr - pf.mean())).mean() +
        F.relu(1 + (pf - pr.mean())).mean())
    g = loss.gen_loss(disc, [real], [fake])
    assert torch.allclose(
        g['loss_gen_real'] + g['loss_gen_fake'],
        F.relu(1 + (pr - pf.mean())).mean() +
        F.relu(1 - (pf - pr.mean())).mean())
