# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import copy

import pytest
import torch
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from mmengine import MessageHub
from mmengine.optim import OptimWrapper, OptimWrapperDict

TINY = dict(channel_base=64, max_channels=8)


def model_cfg(loss='MultiScaleWGANGPLoss', channels=1, **loss_args):
    return dict(
        type='MSGGAN',
        data_preprocessor=dict(type='DataPreprocessor'),
        generator=dict(
            type='MSGProGANGenerator', out_scale=16, img_channels=channels,
            **TINY),
        discriminator=dict(
            type='MSGProGANDiscriminator', in_scale=16,
            img_channels=channels, **TINY),
        ema_config=dict(type='ExponentialMovingAverage', momentum=0.5),
        loss_config=dict(gan_loss=dict(type=loss, **loss_args)))


def optimizers(model):
    return OptimWrapperDict(
        generator=OptimWrapper(
            torch.optim.Adam(model.generator.parameters(), lr=1e-3)),
        discriminator=OptimWrapper(
            torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)))


def batch(n=4, channels=1, size=16):
    return dict(
        inputs={},
        data_samples=[
            DataSample(gt_img=torch.randint(0, 256, (channels, size, size)))
            for _ in range(n)
        ])


@pytest.mark.parametrize('loss,keys', [
    ('MultiScaleWGANGPLoss', {'loss_gp', 'loss_drift', 'loss_gen'}),
    ('NonSaturatingR1Loss', {'loss_r1', 'loss_gen'}),
    ('RelativisticAverageHingeLoss', {'loss_gen_real', 'loss_gen_fake'}),
])
def test_train_step_updates_d_g_and_ema(loss, keys):
    model = MODELS.build(model_cfg(loss))
    optim = optimizers(model)
    g0 = copy.deepcopy(model.generator.state_dict())
    d0 = copy.deepcopy(model.discriminator.state_dict())
    ema0 = copy.deepcopy(model.generator_ema.module.state_dict())
    MessageHub.get_current_instance().update_info('iter', 0)
    log = model.train_step(batch(), optim)
    assert keys <= set(log) and all(torch.isfinite(v) for v in log.values())
    for name, old in d0.items():  # every D weight moved, phi/from-RGB too
        if name.endswith('_orig'):
            assert not torch.equal(model.discriminator.state_dict()[name],
                                   old), name
    for name, old in g0.items():  # every G weight moved, all to-RGB heads
        if name.endswith('_orig'):
            assert not torch.equal(model.generator.state_dict()[name],
                                   old), name
    # the first EMA update copies G, later ones average with momentum 0.5
    name = 'to_rgbs.0.conv.weight_orig'
    ema = model.generator_ema.module.state_dict()
    assert not torch.equal(ema[name], ema0[name])
    assert torch.equal(ema[name], model.generator.state_dict()[name])
    ema1 = ema[name].clone()
    MessageHub.get_current_instance().update_info('iter', 1)
    model.train_step(batch(), optim)
    new = model.generator.state_dict()[name]
    assert not torch.equal(new, ema1)
    assert torch.allclose(model.generator_ema.module.state_dict()[name],
                          (ema1 + new) / 2)


def test_generator_waits_for_discriminator_steps():
    cfg = model_cfg()
    cfg['discriminator_steps'] = 2
    model = MODELS.build(cfg)
    g0 = copy.deepcopy(model.generator.state_dict())
    MessageHub.get_current_instance().update_info('iter', 0)
    log = model.train_step(batch(), optimizers(model))
    assert 'loss_gen' not in log
    assert all(
        torch.equal(v, model.generator.state_dict()[k])
        for k, v in g0.items())


def test_sampling_returns_highest_resolution_through_host_forward():
    model = MODELS.build(model_cfg(channels=3))
    samples = model(dict(num_batches=3))
    assert len(samples) == 3
    assert samples[0].fake_img.shape == (3, 16, 16)
    assert samples[0].sample_model == 'ema'


def test_generator_discriminator_mismatch_is_one_clear_error():
    cfg = model_cfg()
    cfg['discriminator']['in_scale'] = 32
    with pytest.raises(ValueError, match='same resolution'):
        MODELS.build(cfg)
    cfg = model_cfg()
    cfg['discriminator']['img_channels'] = 3
    with pytest.raises(ValueError, match='img_channels'):
        MODELS.build(cfg)


def test_data_that_does_not_match_the_generator_is_one_clear_error():
    model = MODELS.build(model_cfg(channels=1))
    MessageHub.get_current_instance().update_info('iter', 0)
    with pytest.raises(ValueError, match='img_channels'):
        model.train_step(batch(channels=3), optimizers(model))
    with pytest.raises(ValueError, match='Resize'):
        model.train_step(batch(size=32), optimizers(model))


def test_sampling_every_scale_in_one_pass():
    model = MODELS.build(model_cfg(channels=3))
    noise = torch.randn(2, model.noise_size)
    samples = model(
        dict(noise=noise, sample_kwargs=dict(return_scales=True)))
    plain = model(dict(noise=noise))
    assert len(samples) == 2
    for res in (4, 8):
        assert samples[0].get(f'fake_img_{res}').shape == (3, res, res)
    assert torch.equal(samples[1].fake_img, plain[1].fake_img)
    assert samples[0].sample_kwargs == dict(return_scales=True)
    # the 4x4 image is the generator's own 4x4 output, de-normalised
    low = model.generator_ema(noise, return_scales=True)[0]
    expected = model.data_preprocessor.destruct(low, None)
    assert torch.allclose(samples[0].fake_img_4, expected[0])
