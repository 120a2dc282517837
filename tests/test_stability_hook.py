# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import glob
import json
import os.path as osp

import cv2
import pytest
import torch
from mmengine import Config
from mmengine.runner import Runner

from msg_plugin.stability_hook import TrainingStabilityHook
from runner_helpers import own_experiment

TINY = dict(channel_base=64, max_channels=8)
RESOLUTIONS = ['4', '8', '16', '32']


def train(work_dir, iters, resume=False, g_lr=None, **hook_kwargs):
    """The MNIST demo config with tiny widths and the stability hook."""
    cfg = Config.fromfile('configs/msg_progan_mnist.py')
    cfg.model.generator.update(TINY)
    cfg.model.discriminator.update(TINY)
    cfg.work_dir = str(work_dir)
    own_experiment(cfg)
    cfg.resume = resume
    cfg.train_cfg.max_iters = iters
    cfg.train_dataloader.batch_size = 4
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if g_lr is not None:
        cfg.optim_wrapper.generator.optimizer.lr = g_lr
    cfg.custom_hooks = [
        dict(dict(type='TrainingStabilityHook', interval=1), **hook_kwargs)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook, = [h for h in runner.hooks if isinstance(h, TrainingStabilityHook)]
    return runner, hook


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp('stability'), 2)


def values(hook):
    return [h['stability'] for h in hook.history]


@pytest.mark.parametrize('kwargs,match', [
    (dict(interval=0), 'interval'),
    (dict(num_samples=2.5), 'num_samples'),
    (dict(sample_model='raw'), 'sample_model'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainingStabilityHook(**kwargs)


def test_training_changes_every_scale(trained):
    runner, hook = trained
    assert [h['iter'] for h in hook.history] == [0, 1, 2]
    assert [h['images_shown'] for h in hook.history] == [0, 4, 8]
    first, *later = values(hook)
    assert first == dict.fromkeys(RESOLUTIONS)  # reference: no value
    for point in later:
        assert list(point) == RESOLUTIONS
        assert all(0 < v <= 4 for v in point.values())
    assert [p.shape for p in hook.previous] == [
        (36, 1, r, r) for r in (4, 8, 16, 32)]
    logged = runner.message_hub.get_scalar('stability/32').current()
    assert logged == later[-1]['32']


@pytest.mark.parametrize('sample_model', ['ema', 'orig'])
def test_unchanged_generator_scores_zero(trained, sample_model):
    runner, _ = trained
    hook = TrainingStabilityHook(sample_model=sample_model)
    assert hook.measure(runner.model) == dict.fromkeys(RESOLUTIONS)
    assert hook.measure(runner.model) == dict.fromkeys(RESOLUTIONS, 0.)


def test_frozen_generator_in_training_scores_zero(tmp_path):
    _, hook = train(tmp_path, 2, g_lr=0.,
                    sample_model='orig')
    assert values(hook)[1:] == [dict.fromkeys(RESOLUTIONS, 0.)] * 2


def test_plot_and_history_files(trained):
    runner, hook = trained
    with open(osp.join(runner.work_dir, 'stability.json')) as f:
        assert json.load(f) == hook.history
    png = cv2.imread(osp.join(runner.work_dir, 'stability.png'))
    assert png is not None and png.shape == (400, 600, 3)
    assert png.std() > 0  # not a blank canvas
    scalars, = glob.glob(osp.join(runner.log_dir, 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        logged = [json.loads(line) for line in f]
    assert [s['step'] for s in logged if 'stability/4' in s] == [1, 2]


def test_checkpoint_round_trip(trained):
    runner, hook = trained
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    restored = TrainingStabilityHook()
    restored.after_load_checkpoint(runner, checkpoint)
    assert restored.history == hook.history
    assert all(torch.equal(a, b)
               for a, b in zip(restored.previous, hook.previous))
    # the restored rendering is the reference for the next measurement
    assert restored.measure(runner.model) == dict.fromkeys(RESOLUTIONS, 0.)
    other_latents = TrainingStabilityHook(seed=1)
    other_latents.after_load_checkpoint(runner, checkpoint)
    assert other_latents.previous is None
    assert other_latents.history == hook.history


@pytest.mark.parametrize('save_rendering', [True, False])
def test_resume_continues_the_curve(tmp_path, save_rendering):
    train(tmp_path, 2, save_rendering=save_rendering)
    _, hook = train(tmp_path, 4, resume=True, save_rendering=save_rendering)
    missing = [h['iter'] for h in hook.history if h['stability']['4'] is None]
    if save_rendering:
        assert [h['iter'] for h in hook.history] == [0, 1, 2, 3, 4]
        assert missing == [0]
    else:  # a new reference at the resumed iteration
        assert [h['iter'] for h in hook.history] == [0, 1, 2, 2, 3, 4]
        assert missing == [0, 2]
    assert all(v > 0 for v in hook.history[-1]['stability'].values())


def test_style_generator_uses_its_fixed_noise():
    from mmagic.registry import MODELS
    model = MODELS.build(dict(
        type='MSGGAN',
        generator=dict(type='MSGStyleGenerator', out_size=16,
                       style_channels=8, **TINY),
        discriminator=dict(type='MSGStyleDiscriminator', in_scale=16, **TINY),
        loss_config=dict(gan_loss=dict(type='NonSaturatingR1Loss'))))
    for name, param in model.generator.named_parameters():
        if 'noise_injector' in name:  # zero at init: make the noise count
            param.data.fill_(1.)
    hook = TrainingStabilityHook(num_samples=4)
    hook.measure(model)
    assert hook.measure(model) == dict.fromkeys(['4', '8', '16'], 0.)
    assert model.generator.training  # switched back after rendering
