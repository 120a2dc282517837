# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmagic.registry import MODELS

from msg_plugin.scales import channel_width, scale_resolutions

TINY = dict(channel_base=256, max_channels=16)


def build(kind, res, **kwargs):
    if kind == 'G':
        return MODELS.build(
            dict(type='MSGProGANGenerator', out_scale=res, **kwargs))
    return MODELS.build(
        dict(type='MSGProGANDiscriminator', in_scale=res, **kwargs))


def conv_widths(module):
    return [(m.in_channels, m.out_channels) for m in module.modules()
            if isinstance(m, torch.nn.Conv2d)]


def test_paper_width_table():
    assert scale_resolutions(1024) == [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert [channel_width(r) for r in scale_resolutions(1024)] == [
        512, 512, 512, 512, 256, 128, 64, 32, 16
    ]


@pytest.mark.parametrize('res,num_scales', [(32, 4), (256, 7), (1024, 9)])
def test_generator_widths_follow_table_6(res, num_scales):
    gen = build('G', res)
    widths = [channel_width(r) for r in scale_resolutions(res)]
    assert gen.noise_size == 512
    assert len(gen.to_rgbs) == num_scales
    assert [h.conv.in_channels for h in gen.to_rgbs] == widths
    # block at r (after 4x4): conv c(r/2) -> c(r), then c(r) -> c(r)
    for block, prev, width in zip(gen.blocks[1:], widths, widths[1:]):
        assert conv_widths(block) == [(prev, width), (width, width)]


def test_generator_outputs_every_scale_low_to_high():
    gen = build('G', 32, img_channels=1, **TINY)
    imgs = gen(num_batches=2, return_scales=True)
    assert [tuple(i.shape) for i in imgs] == [(2, 1, r, r)
                                             for r in (4, 8, 16, 32)]
    # host contract: the highest scale by default, a dict with return_noise
    noise = torch.randn(2, gen.noise_size)
    top = gen(noise)
    assert torch.allclose(top, gen(noise, return_scales=True)[-1])
    out = gen(noise, return_noise=True)
    assert out['fake_img'].shape == (2, 1, 32, 32)
    assert out['noise_batch'] is noise


def test_latent_is_normalised_to_the_hypersphere():
    gen = build('G', 8, **TINY)
    z = torch.randn(3, gen.noise_size)
    assert torch.allclose(gen(z), gen(5 * z), atol=1e-5)


@pytest.mark.parametrize('res,widths', [
    (1024, [17, 36, 68, 132, 260, 516, 516, 516, 516]),
    (256, [65, 132, 260, 516, 516, 516, 516]),
    (32, [513, 516, 516, 516]),
])
def test_discriminator_input_widths_follow_table_7(res, widths):
    disc = build('D', res)
    assert disc.block_in_channels == widths


def test_discriminator_1024_table_7_rows():
    disc = build('D', 1024)
    convs = conv_widths(disc.blocks[0])
    assert convs == [(17, 16), (16, 32)]  # 1024: 3 -> 16 -> 17 -> 16 -> 32
    assert conv_widths(disc.blocks[1]) == [(36, 32), (32, 64)]
    assert conv_widths(disc.blocks[-1]) == [(516, 512), (512, 512)]


def test_discriminator_scores_every_scale_of_the_generator():
    gen = build('G', 32, **TINY)
    disc = build('D', 32, **TINY)
    imgs = gen(num_batches=4, return_scales=True)
    score = disc(imgs)
    assert score.shape == (4, 1)
    score.sum().backward()
    # every to-RGB head receives gradient from the single discriminator
    assert all(h.conv.weight_orig.grad.abs().sum() > 0 for h in gen.to_rgbs)


def test_fused_convdown_pools_before_the_activation_on_the_same_weights():
    torch.manual_seed(0)
    paper = build('D', 16, **TINY)
    fused = build('D', 16, fused_convdown=True, **TINY)
    fused.load_state_dict(paper.state_dict())  # same keys and shapes
    x = torch.randn(4, 17, 16, 16)  # the input of the 16x16 block's first conv
    hidden = paper.blocks[0][1](x)
    # paper: conv3x3 -> LReLU -> pool; fused (mmagic's PGGAN): conv -> pool
    # -> LReLU, the conv's equalized-LR weight and bias unchanged
    conv = paper.blocks[0][2].conv
    expected = F.leaky_relu(F.avg_pool2d(conv(hidden), 2), 0.2)
    torch.testing.assert_close(fused.blocks[0][2](hidden), expected)
    assert not torch.allclose(paper.blocks[0][3](paper.blocks[0][2](hidden)),
                              expected)
    # the 4x4 critic is the same block either way
    imgs = [torch.randn(4, 3, r, r) for r in (4, 8, 16)]
    assert fused(imgs).shape == (4, 1)
    assert len(fused.blocks[-1]) == len(paper.blocks[-1])


@pytest.mark.parametrize('combine,widths', [
    ('SimpleCombine', [9, 20, 20, 20]),  # c + 3 (+1 mbstd)
    ('LinCatCombine', [9, 25, 25, 25]),  # c + c/2 (+1)
    ('CatLinCombine', [9, 17, 17, 17]),  # c (+1)
])
def test_combine_functions_set_block_widths(combine, widths):
    disc = build('D', 32, combine=dict(type=combine), **TINY)
    assert disc.block_in_channels == widths
    imgs = [torch.randn(4, 3, r, r) for r in (4, 8, 16, 32)]
    assert disc(imgs).shape == (4, 1)


def test_combine_order_and_projection():
    img, feat = torch.randn(2, 3, 8, 8), torch.randn(2, 16, 8, 8)
    simple = MODELS.build(
        dict(type='SimpleCombine', feat_channels=16, img_channels=3))
    assert torch.equal(simple(img, feat)[:, :3], img)
    cat_lin = MODELS.build(
        dict(type='CatLinCombine', feat_channels=16, img_channels=3))
    assert cat_lin(img, feat).shape == (2, 16, 8, 8)


@pytest.mark.parametrize('res', [0, 4, 12, 100, 33])
def test_resolution_must_be_a_power_of_two(res):
    with pytest.raises(ValueError, match='power of two'):
        build('G', res)
    with pytest.raises(ValueError, match='power of two'):
        build('D', res)


def test_discriminator_rejects_mismatched_scales():
    disc = build('D', 32, **TINY)
    with pytest.raises(ValueError, match='expects 4 scales'):
        disc([torch.randn(4, 3, r, r) for r in (8, 16, 32)])
    with pytest.raises(ValueError, match='expects 4 scales'):
        disc([torch.randn(4, 1, r, r) for r in (4, 8, 16, 32)])
    with pytest.raises(TypeError, match='list of images'):
        disc(torch.randn(4, 3, 32, 32))


def test_batch_must_fit_minibatch_stddev_groups():
    disc = build('D', 8, **TINY)
    with pytest.raises(ValueError, match='not divisible'):
        disc([torch.randn(6, 3, r, r) for r in (4, 8)])
    assert disc([torch.randn(3, 3, r, r) for r in (4, 8)]).shape == (3, 1)


@pytest.mark.parametrize('kind', [
    'MSGProGANGenerator', 'MSGProGANDiscriminator', 'MSGStyleGenerator',
    'MSGStyleDiscriminator'
])
def test_runner_init_weights_keeps_equalized_lr_init(kind):
    size = 'in_scale' if 'Disc' in kind else (
        'out_scale' if 'ProGAN' in kind else 'out_size')
    net = MODELS.build({'type': kind, size: 16, **TINY})
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.init_weights()  # what the Runner calls before training
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
