# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The multi-scale connection switch (paper Table 4): ``msg_scales``."""
import pytest
import torch
from mmagic.registry import MODELS

import msg_plugin.msg_losses as msg_losses
from msg_plugin.scales import fed_resolutions
from test_msg_gan import batch, optimizers

TINY = dict(channel_base=256, max_channels=8)  # widths 8, 8, 8, 8, 4 at 4..64
# Table 4 at 64 px: none, coarse, middle, fine, all
ABLATIONS = {
    'none': [],
    'coarse': [4, 8],
    'middle': [16, 32],
    'fine': [64],
    'all': None,
}
GENERATORS = [
    dict(type='MSGProGANGenerator', out_scale=64),
    dict(type='MSGStyleGenerator', out_size=64, style_channels=8),
]
DISCRIMINATORS = [
    dict(type='MSGProGANDiscriminator', in_scale=64),
    dict(type='MSGStyleDiscriminator', in_scale=64),
]


def test_fed_resolutions():
    assert fed_resolutions(64) == [4, 8, 16, 32, 64]
    assert fed_resolutions(64, []) == [64]
    assert fed_resolutions(64, [32, 16, 64]) == [16, 32, 64]
    with pytest.raises(ValueError, match=r'chosen from \[4, 8, 16, 32\]'):
        fed_resolutions(64, [128])


@pytest.mark.parametrize('name', ABLATIONS)
def test_progan_discriminator_widths_follow_the_switch(name):
    disc = MODELS.build(
        dict(DISCRIMINATORS[0], msg_scales=ABLATIONS[name], **TINY))
    fed = fed_resolutions(64, ABLATIONS[name])
    # blocks run 64 -> 4; phi_simple adds 1 image channel where a scale is
    # merged, MinibatchStdDev 1 everywhere; the 64 image enters by from-RGB
    widths = {64: 4, 32: 8, 16: 8, 8: 8, 4: 8}
    want = [widths[r] + 1 + (r in fed[:-1]) * 3 for r in (64, 32, 16, 8, 4)]
    assert disc.block_in_channels == want
    assert sorted(int(r) for r in disc.combines) == fed[:-1]


@pytest.mark.parametrize('gen_cfg', GENERATORS, ids=lambda c: c['type'])
@pytest.mark.parametrize('name', ['none', 'middle', 'all'])
def test_generator_makes_only_the_fed_scales(gen_cfg, name):
    gen = MODELS.build(dict(gen_cfg, msg_scales=ABLATIONS[name], **TINY))
    fed = fed_resolutions(64, ABLATIONS[name])
    assert gen.resolutions == fed
    assert len(gen.to_rgbs) == len(fed)
    torch.manual_seed(0)
    noise = torch.randn(2, gen.noise_size)
    gen.eval()
    scales = gen(noise, return_scales=True, randomize_noise=False) \
        if 'Style' in gen_cfg['type'] else gen(noise, return_scales=True)
    assert [s.shape[-1] for s in scales] == fed
    top = gen(noise, randomize_noise=False) if 'Style' in gen_cfg['type'] \
        else gen(noise)
    torch.testing.assert_close(scales[-1], top)


def _model(gen_cfg, disc_cfg, msg_scales, loss='MultiScaleWGANGPLoss'):
    return MODELS.build(
        dict(
            type='MSGGAN',
            data_preprocessor=dict(type='DataPreprocessor'),
            generator=dict(gen_cfg, img_channels=1, **TINY),
            discriminator=dict(disc_cfg, img_channels=1, **TINY),
            ema_config=dict(type='ExponentialMovingAverage'),
            loss_config=dict(gan_loss=dict(type=loss)),
            msg_scales=msg_scales))


@pytest.mark.parametrize('arch,loss,penalty', [
    (0, 'MultiScaleWGANGPLoss', 'multi_scale_gradient_penalty'),
    (1, 'NonSaturatingR1Loss', 'multi_scale_r1_penalty'),
])
@pytest.mark.parametrize('name', ['none', 'coarse', 'fine'])
def test_model_switch_penalises_and_trains_the_fed_scales(
        monkeypatch, name, arch, loss, penalty):
    model = _model(GENERATORS[arch], DISCRIMINATORS[arch], ABLATIONS[name],
                   loss)
    fed = fed_resolutions(64, ABLATIONS[name])
    assert model.generator.resolutions == fed
    assert model.generator_ema.module.resolutions == fed
    assert model.discriminator.resolutions == fed

    penalised = []
    original = getattr(msg_losses, penalty)

    def spy(disc, real, *args, **kwargs):
        penalised.append([img.shape[-1] for img in real])
        return original(disc, real, *args, **kwargs)

    monkeypatch.setattr(msg_losses, penalty, spy)
    data = model.data_preprocessor(batch(4, 1, 64), True)
    optims = optimizers(model)
    # every parameter takes part (Adam moves each one that got a gradient),
    # so DDP needs no find_unused_parameters
    for net, step in (('discriminator', model.train_discriminator),
                      ('generator', model.train_generator)):
        before = {n: p.clone() for n, p in getattr(model, net).named_parameters()}
        step(**data, optimizer_wrapper=optims[net])
        frozen = [n for n, p in getattr(model, net).named_parameters()
                  if torch.equal(p, before[n])]
        assert frozen == [], net
    assert penalised == [fed]


def test_model_switch_conflicts_and_host_generators():
    with pytest.raises(ValueError, match='set the switch in one place'):
        _model(dict(GENERATORS[0], msg_scales=[4]), DISCRIMINATORS[0], [8])
    with pytest.raises(ValueError, match='reads'):
        MODELS.build(
            dict(
                type='MSGGAN',
                generator=dict(GENERATORS[0], **TINY),
                discriminator=MODELS.build(dict(DISCRIMINATORS[0], **TINY)),
                msg_scales=[8]))
    # a host generator has no switch: only D is told, and it reads one scale
    model = MODELS.build(
        dict(
            type='MSGGAN',
            generator=dict(type='DCGANGenerator', output_scale=64,
                           out_channels=3, base_channels=8, noise_size=8),
            discriminator=dict(DISCRIMINATORS[0], **TINY),
            msg_scales=[]))
    assert model.discriminator.resolutions == [64]
