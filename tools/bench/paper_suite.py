# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The models of ``tools/bench/step_speed.py --suite paper``.

MSG-ProGAN and MSG-StyleGAN at the paper's widths, each with its multi-scale
connections on and off (``msg_scales=[]``), and mmagic's PGGAN and StyleGANv1
held at their final resolution; all with the same optimizer and EMA, stepped on
one fixed real batch.

The discriminator blocks of the two ProGANs differ: the paper's (and the
official ProGAN's default) is ``conv3x3 -> LReLU -> conv3x3 -> LReLU -> 2x2
avg-pool``, mmagic's PGGAN by default fuses the second conv with the pooling
(``fused_convdown``: conv, pool, then LReLU, as one stride-2 4x4 conv). So the
suite also has each side with the other's block: ``msg_fused``
(``MSGProGANDiscriminator(fused_convdown=True)``) and ``pggan_unfused``
(``PGGANDiscriminator`` with conv -> LReLU -> avg-pool blocks).
"""
import importlib
from contextlib import contextmanager
from typing import Tuple

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from mmagic.registry import MODELS
from mmagic.structures import DataSample

# suite models, in the order they are stepped in every round
SUITE = ('msg', 'msg_off', 'msg_fused', 'pggan', 'pggan_unfused', 'msgstyle',
         'msgstyle_off', 'stylegan1')
DEFAULT_BATCH = {32: 16, 128: 8}
PAPER_BASE, PAPER_MAX = 16384, 512
# MSG model -> generator, its size and latent arguments, discriminator,
# combine, loss (its ``_off`` twin: the same with ``msg_scales=[]``; its
# ``_fused`` twin: the discriminator with ``fused_convdown=True``)
MSG_FAMILIES = {
    'msg': ('MSGProGANGenerator', 'out_scale', 'noise_size',
            'MSGProGANDiscriminator',
            'SimpleCombine',
            dict(type='MultiScaleWGANGPLoss', gp_weight=10.,
                 drift_weight=1e-3)),
    'msgstyle': ('MSGStyleGenerator', 'out_size', 'style_channels',
                 'MSGStyleDiscriminator',
                 'CatLinCombine',
                 dict(type='NonSaturatingR1Loss', r1_weight=10.,
                      r1_mode='total')),
}
STEP_EMA = dict(type='ExponentialMovingAverage', interval=1, momentum=0.001)


def widths(scale: float) -> Tuple[int, int]:
    """``channel_base`` and ``max_channels`` of the paper's widths times
    ``scale``."""
    base, top = round(PAPER_BASE * scale), round(PAPER_MAX * scale)
    if top < 1 or base < top:
        raise ValueError(f'--width-scale {scale} leaves no channels.')
    return base, top


def _scaled_channels(channels: int, scale: float) -> int:
    """A StyleGANv1 width (16..512, or one of them + 1 for the minibatch
    stddev channel) times ``scale``; image and score channels unchanged."""
    paper = {16 << i for i in range(6)}
    if channels in paper:
        return max(1, round(channels * scale))
    if channels - 1 in paper:
        return _scaled_channels(channels - 1, scale) + 1
    return channels


@contextmanager
def stylegan1_widths(scale: float):
    """Build mmagic's StyleGANv1 networks at ``scale`` times their widths.

    mmagic hard-codes StyleGANv1's widths (``c(r) = min(512, 16384 / r)``), so
    for shrunk runs the layer classes its modules build are swapped, while
    building, for ones that scale their channel arguments. At scale 1 nothing
    is changed.

    Args:
        scale (float): Width multiplier.
    """
    if scale == 1:
        yield
        return
    names = {
        'stylegan1_discriminator': ('EqualizedLRConvModule',
                                    'EqualizedLRConvDownModule',
                                    'EqualLinearActModule'),
        'stylegan1_generator': ('EqualizedLRConvModule', 'StyleConv'),
    }
    saved = []
    for module_name, classes in names.items():
        module = importlib.import_module(
            f'mmagic.models.editors.stylegan1.{module_name}')
        for cls_name in classes:
            cls = getattr(module, cls_name)
            saved.append((module, cls_name, cls))

            def scaled(in_channels, out_channels, *args, _cls=cls, **kwargs):
                return _cls(
                    _scaled_channels(in_channels, scale),
                    _scaled_channels(out_channels, scale), *args, **kwargs)

            setattr(module, cls_name, scaled)
    try:
        yield
    finally:
        for module, cls_name, cls in saved:
            setattr(module, cls_name, cls)


def suite_config(name: str, resolution: int, scale: float) -> dict:
    """Model config of one suite member.

    Args:
        name (str): One of ``SUITE``.
        resolution (int): Output resolution.
        scale (float): Width multiplier (1: paper widths).

    Returns:
        dict: A config for ``MODELS.build``.
    """
    base, top = widths(scale)
    style = top  # latent / style size: 512 at paper widths
    preprocessor = dict(type='DataPreprocessor')
    family_name, _, variant = name.partition('_')
    family = MSG_FAMILIES.get(family_name)
    if family is not None:
        generator, size_key, latent_key, discriminator, combine, loss = family
        fused = dict(fused_convdown=True) if variant == 'fused' else {}
        return dict(
            type='MSGGAN',
            data_preprocessor=preprocessor,
            generator={
                'type': generator, size_key: resolution,
                latent_key: style,
                'channel_base': base, 'max_channels': top},
            discriminator=dict(
                type=discriminator, in_scale=resolution, channel_base=base,
                max_channels=top, combine=dict(type=combine), **fused),
            ema_config=STEP_EMA,
            loss_config=dict(gan_loss=loss),
            msg_scales=[] if variant == 'off' else None)
    if family_name == 'pggan':
        # the paper's block: mmagic 1.2.0's fused_convdown=False path reads
        # self.downsample before it sets it, so it is built as a "fused" block
        # of a stride-1 conv + LReLU followed by 2x2 average pooling
        unfused = dict(fused_convdown_cfg=dict(
            stride=1, downsample=dict(type='avgpool')))
        return dict(
            type='ProgressiveGrowingGAN',
            data_preprocessor=preprocessor,
            noise_size=style,
            generator=dict(
                type='PGGANGenerator', out_scale=resolution, noise_size=style,
                base_channels=base // 2, max_channels=top),
            discriminator=dict(
                type='PGGANDiscriminator', in_scale=resolution,
                base_channels=base // 2, max_channels=top,
                **(unfused if variant == 'unfused' else {})),
            nkimgs_per_scale={str(resolution): 1e9},
            ema_config=STEP_EMA)
    if name == 'stylegan1':
        return dict(
            type='StyleGANv1',
            data_preprocessor=preprocessor,
            style_channels=style,
            generator=dict(
                type='StyleGANv1Generator', out_size=resolution,
                style_channels=style),
            discriminator=dict(type='StyleGANv1Discriminator',
                               in_size=resolution),
            nkimgs_per_scale={str(resolution): 1e9},
            ema_config=STEP_EMA)
    raise KeyError(name)


def fixed_batch(resolution: int, batch: int, seed: int = 0) -> dict:
    """A fixed real batch in [0, 255], as a dataloader would give it."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, resolution, resolution, generator=gen) * 255
    return dict(
        inputs={}, data_samples=[DataSample(gt_img=img) for img in images])


def optimizers(model: torch.nn.Module) -> OptimWrapperDict:
    """Adam (lr 1e-3, betas (0, 0.99)) for G and D, under the keys the model's
    ``train_step`` reads."""
    suffix = ''
    if hasattr(model, 'scales'):  # PGGAN / StyleGANv1: keys per scale
        suffix = f'_{model.scales[-1][0]}'
    return OptimWrapperDict(
        **{
            f'{role}{suffix}': OptimWrapper(
                torch.optim.Adam(
                    getattr(model, role).parameters(),
                    lr=1e-3,
                    betas=(0., 0.99)))
            for role in ('generator', 'discriminator')
        })


def build_suite(name: str, resolution: int, scale: float,
                batch: int) -> tuple:
    """Model (train mode), optimizers and the fixed batch of a suite member."""
    with stylegan1_widths(scale):
        model = MODELS.build(suite_config(name, resolution, scale))
    model.init_weights()
    model.train()
    return model, optimizers(model), fixed_batch(resolution, batch)
