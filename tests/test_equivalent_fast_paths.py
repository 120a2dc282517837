# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The faster equivalents compute what the layers they stand for compute.

``PooledBlur`` (mmagic's [1, 2, 1] ``Blur`` as two average pools) to the second
derivative, as R1 needs; ``UpsampleConvBlock`` (nearest upsampling folded into
the next 3x3 conv) in both generators, outputs and gradients.
"""
import copy

import pytest
import torch
import torch.nn as nn
from mmagic.models.editors.stylegan1.stylegan1_modules import Blur
from torch import autograd

from msg_plugin.msg_losses import NonSaturatingR1Loss
from msg_plugin.msg_progan_generator import (MSGProGANGenerator,
                                             UpsampleConvBlock)
from msg_plugin.msg_stylegan_discriminator import MSGStyleDiscriminator
from msg_plugin.msg_stylegan_generator import MSGStyleGenerator
from msg_plugin.multi_scale_discriminator import PooledBlur
from msg_plugin.pyramid import image_pyramid


def _r1_like(blur, x, weight):
    """A loss that differentiates ``blur`` twice, as R1 does."""
    x = x.detach().requires_grad_(True)
    out = torch.nn.functional.leaky_relu(blur(x * weight), 0.2)
    grad, = autograd.grad(out.pow(2).sum(), x, create_graph=True)
    loss = grad.pow(2).sum()
    loss.backward()
    return out.detach(), grad.detach(), weight.grad.clone()


@pytest.mark.parametrize('kernel, pooled', [([1, 2, 1], True),
                                            ([1, 3, 3, 1], False)])
def test_pooled_blur_matches_blur_to_the_second_derivative(kernel, pooled):
    torch.manual_seed(0)
    blur = Blur(kernel, pad=(1, 1))
    fast = PooledBlur(blur)
    assert fast.pooled is pooled
    x = torch.randn(4, 6, 9, 8)
    results = []
    for module in (blur, fast):
        weight = torch.linspace(0.5, 1.5, 6).reshape(1, 6, 1, 1)
        results.append(_r1_like(module, x, weight.requires_grad_(True)))
    for ref, new in zip(*results):
        torch.testing.assert_close(new, ref, rtol=1e-5, atol=1e-5)


def test_style_discriminator_blurs_pool_and_train_as_before():
    torch.manual_seed(0)
    disc = MSGStyleDiscriminator(in_scale=16, channel_base=128, max_channels=16)
    blurs = [m for m in disc.modules() if isinstance(m, PooledBlur)]
    assert len(blurs) == 2 and all(b.pooled for b in blurs)
    assert 'blocks.0.2.kernel' in disc.state_dict()  # keys as with Blur
    reference = copy.deepcopy(disc)
    for block in reference.blocks:
        for i, layer in enumerate(block):
            if isinstance(layer, PooledBlur):
                block[i] = Blur([1, 2, 1], pad=(1, 1))
    loss_fn = NonSaturatingR1Loss()
    real = image_pyramid(torch.randn(8, 3, 16, 16), disc.resolutions)
    fake = image_pyramid(torch.randn(8, 3, 16, 16), disc.resolutions)
    outputs = []
    for net in (reference, disc):
        losses = loss_fn.disc_loss(net, real, fake)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        outputs.append(({k: v.detach() for k, v in losses.items()},
                        [p.grad for p in net.parameters()]))
    (ref_losses, ref_grads), (losses, grads) = outputs
    for key, value in ref_losses.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-6)
    for ref, new in zip(ref_grads, grads):
        torch.testing.assert_close(new, ref, rtol=1e-4, atol=1e-5)


def _unfolded(generator):
    """A copy of ``generator`` whose upsample blocks run layer by layer."""
    reference = copy.deepcopy(generator)
    for parent in reference.modules():
        for name, child in parent.named_children():
            if isinstance(child, UpsampleConvBlock):
                setattr(parent, name, nn.Sequential(*child))
    return reference


def _scales_and_grads(generator, noise):
    torch.manual_seed(1)  # same noise maps for the style generator
    images = generator(noise, return_scales=True)
    sum(img.square().mean() for img in images).backward()
    return images, [p.grad for p in generator.parameters()]


def test_upsample_conv_block_is_upsample_then_conv_in_float64():
    torch.manual_seed(0)
    gen = MSGProGANGenerator(32, channel_base=256, max_channels=16).double()
    assert [getattr(b, 'folded', None) for b in gen.blocks] == \
        [None, True, True, True]
    reference = _unfolded(gen)
    assert list(reference.state_dict()) == list(gen.state_dict())
    noise = torch.randn(4, 16, dtype=torch.float64)
    ref, new = (_scales_and_grads(g, noise) for g in (reference, gen))
    for a, b in zip(ref[0] + ref[1], new[0] + new[1]):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)


def test_style_generator_folds_below_128_and_matches():
    torch.manual_seed(0)
    gen = MSGStyleGenerator(
        128, style_channels=16, channel_base=256, max_channels=16)
    # 4 px: constant input; 8-64 px: folded; 128 px: StyleGAN's own fused conv
    assert [getattr(c.conv1, 'folded', None) for c in gen.convs] == \
        [None, True, True, True, True, None]
    reference = _unfolded(gen)
    noise = torch.randn(2, 16)
    ref, new = (_scales_and_grads(g, noise) for g in (reference, gen))
    for a, b in zip(ref[0] + ref[1], new[0] + new[1]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


def test_upsample_conv_block_leaves_other_layers_unfolded():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    assert not UpsampleConvBlock(nn.Upsample(scale_factor=2), conv).folded
    assert not UpsampleConvBlock(
        nn.Upsample(scale_factor=2, mode='bilinear'), conv).folded
