# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import copy

import pytest
import torch
from mmagic.registry import MODELS
from mmengine import Config
from runner_helpers import train_in_runner

from msg_plugin.scales import channel_width, scale_resolutions

TINY = dict(channel_base=64, max_channels=8)


def generator(size=16, **kwargs):
    cfg = dict(type='MSGStyleGenerator', out_size=size, style_channels=8)
    cfg.update(TINY, **kwargs)
    return MODELS.build(cfg)


def fixed(gen, *styles, **kwargs):
    """Sample with the fixed noise buffers, so only the styles vary."""
    gen.eval()
    return gen(list(styles), randomize_noise=False, **kwargs)


@pytest.mark.parametrize('res,num_layers', [(32, 8), (256, 14), (1024, 18)])
def test_generator_follows_the_width_table(res, num_layers):
    gen = MODELS.build(dict(type='MSGStyleGenerator', out_size=res))
    widths = [channel_width(r) for r in scale_resolutions(res)]
    assert gen.num_latents == num_layers and gen.noise_size == 512
    assert [h.conv.in_channels for h in gen.to_rgbs] == widths
    assert len(gen.style_mapping) == 9  # PixelNorm + 8 dense layers


@pytest.mark.parametrize('res', [32, 256])
def test_generator_and_discriminator_shapes(res):
    gen = generator(res, img_channels=1)
    disc = MODELS.build(
        dict(type='MSGStyleDiscriminator', in_scale=res, img_channels=1,
             **TINY))
    imgs = gen(num_batches=2, return_scales=True)
    assert [tuple(i.shape) for i in imgs] == [
        (2, 1, r, r) for r in scale_resolutions(res)]
    assert gen(torch.randn(2, 8)).shape == (2, 1, res, res)
    assert disc(imgs).shape == (2, 1)


def test_discriminator_widths_with_each_combine():
    def widths(combine):
        disc = MODELS.build(
            dict(type='MSGStyleDiscriminator', in_scale=1024,
                 combine=dict(type=combine)))
        return disc.block_in_channels
    cat_lin = [17, 33, 65, 129, 257, 513, 513, 513, 513]
    assert widths('CatLinCombine') == cat_lin
    assert widths('SimpleCombine') == [17] + [c + 3 for c in cat_lin[1:]]
    assert MODELS.build(dict(type='MSGStyleDiscriminator', in_scale=32)
                        ).combines['16'].__class__.__name__ == 'CatLinCombine'


def test_to_rgb_heads_are_independent():
    gen = generator()
    z = torch.randn(2, 8)
    before = fixed(gen, z, return_scales=True)
    with torch.no_grad():
        gen.to_rgbs[1].conv.weight_orig.add_(1.)
    after = fixed(gen, z, return_scales=True)
    changed = [not torch.allclose(a, b) for a, b in zip(before, after)]
    assert changed == [False, True, False]


def test_truncation():
    gen = generator()
    gen.train()
    gen(num_batches=64)  # tracks the average w during training
    assert gen.w_avg.abs().sum() > 0
    w_avg = gen.w_avg.clone()
    gen.eval()
    gen(num_batches=4)
    assert torch.equal(gen.w_avg, w_avg)  # not updated outside training
    z1, z2 = torch.randn(3, 8), torch.randn(3, 8)
    assert torch.allclose(fixed(gen, z1, truncation=1.), fixed(gen, z1))
    avg1, avg2 = fixed(gen, z1, truncation=0.), fixed(gen, z2, truncation=0.)
    assert torch.allclose(avg1, avg2, atol=1e-6)
    mean_image = fixed(gen, w_avg.expand(3, -1), input_is_latent=True)
    assert torch.allclose(avg1, mean_image, atol=1e-6)
    # the cutoff truncates only the first layers
    out = gen(z1, truncation=0., truncation_cutoff=2, return_latents=True)
    latent = out['latent']
    assert torch.allclose(latent[:, :2], w_avg.expand(3, 2, -1))
    assert not torch.allclose(latent[:, 2:], w_avg.expand(3, 4, -1))


def test_style_mixing_crossover_at_the_ends_gives_a_parent():
    gen = generator()
    z1, z2 = torch.randn(2, 8), torch.randn(2, 8)
    parent1, parent2 = fixed(gen, z1), fixed(gen, z2)
    assert torch.allclose(fixed(gen, z1, z2, inject_index=0), parent2)
    assert torch.allclose(
        fixed(gen, z1, z2, inject_index=gen.num_latents), parent1)
    child = fixed(gen, z1, z2, inject_index=2)
    assert not torch.allclose(child, parent1)
    assert not torch.allclose(child, parent2)


def test_no_mixing_during_training():
    gen = generator()
    gen.train()
    out = gen(num_batches=2, return_latents=True)
    assert out['inject_index'] is None
    assert torch.equal(out['latent'][:, 0], out['latent'][:, -1])


def test_r1_total_and_partial_agree_at_one_scale():
    disc = MODELS.build(
        dict(type='MSGStyleDiscriminator', in_scale=16, msg_scales=[], **TINY))
    real, fake = [torch.randn(4, 3, 16, 16)], [torch.randn(4, 3, 16, 16)]
    losses = {
        mode: MODELS.build(dict(type='NonSaturatingR1Loss', r1_mode=mode))
        .disc_loss(disc, real, fake)['loss_r1']
        for mode in ('total', 'partial')
    }
    assert losses['total'] > 0
    assert torch.allclose(losses['total'], losses['partial'])


@pytest.mark.parametrize('res', [4, 48, 2000])
def test_unsupported_resolutions(res):
    with pytest.raises(ValueError, match='power of two'):
        generator(res)
    with pytest.raises(ValueError, match='power of two'):
        MODELS.build(dict(type='MSGStyleDiscriminator', in_scale=res))


def test_mismatched_scale_lists():
    disc = MODELS.build(dict(type='MSGStyleDiscriminator', in_scale=16,
                             **TINY))
    with pytest.raises(ValueError, match='expects 3 scales'):
        disc([torch.randn(4, 3, r, r) for r in (8, 16)])
    with pytest.raises(ValueError, match='msg_scales'):
        MODELS.build(dict(type='MSGStyleDiscriminator', in_scale=16,
                          msg_scales=[2, 8]))
    with pytest.raises(ValueError, match='same resolution'):
        MODELS.build(
            dict(type='MSGGAN',
                 generator=dict(type='MSGStyleGenerator', out_size=16),
                 discriminator=dict(type='MSGStyleDiscriminator',
                                    in_scale=32)))


def test_mmagic_stylegan2_model_trains_with_msg_style_generator(tmp_path):
    model = dict(
        type='StyleGAN2',
        data_preprocessor=dict(type='DataPreprocessor'),
        generator=dict(
            type='MSGStyleGenerator', out_size=32, img_channels=1,
            style_channels=8, **TINY),
        discriminator=dict(
            type='StyleGAN2Discriminator', in_size=32, img_channels=1,
            channel_multiplier=1),
        ema_config=dict(type='ExponentialMovingAverage'),
        loss_config=dict(r1_interval=1, g_reg_interval=1,
                         pl_batch_shrink=2))
    runner = train_in_runner(model, tmp_path, iters=1)
    assert type(runner.model).__name__ == 'StyleGAN2'
    # the path-length regulariser ran through return_latents
    assert runner.model.mean_path_length.abs().sum() > 0
    assert (tmp_path / 'iter_1.pth').is_file()


def test_msg_gan_trains_an_mmagic_generator_with_single_scale_msg_d(tmp_path):
    model = dict(
        type='MSGGAN',
        data_preprocessor=dict(type='DataPreprocessor'),
        generator=dict(
            type='DCGANGenerator', output_scale=32, out_channels=1,
            base_channels=32, noise_size=16),
        discriminator=dict(
            type='MSGProGANDiscriminator', in_scale=32, img_channels=1,
            msg_scales=[], **TINY),
        loss_config=dict(gan_loss=dict(type='RelativisticAverageHingeLoss')))
    runner = train_in_runner(model, tmp_path)
    disc = runner.model.discriminator
    assert disc.resolutions == [32] and len(disc.combines) == 0
    before = copy.deepcopy(runner.model.generator.state_dict())
    runner.model.train_step(next(iter(runner.train_dataloader)),
                            runner.optim_wrapper)
    assert any(not torch.equal(v, runner.model.generator.state_dict()[k])
               for k, v in before.items())


def test_single_output_generator_needs_a_single_scale_discriminator():
    with pytest.raises(ValueError, match=r'msg_scales=\[\]'):
        MODELS.build(
            dict(type='MSGGAN',
                 generator=dict(type='DCGANGenerator', output_scale=32,
                                base_channels=32),
                 discriminator=dict(type='MSGProGANDiscriminator',
                                    in_scale=32, **TINY)))


@pytest.mark.parametrize('config', ['configs/msg_stylegan_mnist.py',
                                    'configs/msg_stylegan_ffhq.py'])
def test_stylegan_configs_load_and_build(config):
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    assert type(model.generator).__name__ == 'MSGStyleGenerator'
    assert model.discriminator.resolutions == model.generator.resolutions
    assert type(model.gan_loss).__name__ == 'NonSaturatingR1Loss'
