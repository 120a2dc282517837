# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""N iterations straight == N/2, then ``resume`` and N/2 more, bit for bit.

mmengine's real Runner trains in-process (as ``tools/train.py`` and
``tools/train.py --resume`` do, without the 8 s import per run) on the MNIST
demo configs with tiny widths, on CPU with the runtime's fixed seed. The losses
of every iteration and every tensor of the final checkpoints must be equal
(``torch.equal``, not allclose): G, D, EMA G (with its ``steps``), ``w_avg``,
both optimizers' states, the stability hook's state and the saved random states.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.runner import Runner

from msg_plugin.random_state_hook import CKPT_KEY
from runner_helpers import own_experiment

ROOT = Path(__file__).resolve().parents[1]
DEMOS = ['configs/msg_progan_mnist.py', 'configs/msg_stylegan_mnist.py']
ITERS, HALF = 4, 2
OPTIONS = {
    **{f'model.{net}.{key}': value
       for net in ('generator', 'discriminator')
       for key, value in (('channel_base', 64), ('max_channels', 8))},
    'train_dataloader.batch_size': 4,
    'train_dataloader.num_workers': 0,
    # a random transform: with num_workers=0 the dataloader advance of a resume
    # draws from the global numpy state, so the states must be restored after it
    'train_dataloader.dataset.pipeline': [
        dict(type='Flip', keys=['gt'], direction='horizontal', flip_ratio=0.5),
        dict(type='PackInputs')],
    'default_hooks.logger.interval': 1,
    'default_hooks.checkpoint.interval': HALF,
    'train_cfg.val_begin': 1000,  # no evaluation
    # the stability hook's state (history + rendering) is part of the check;
    # no extra measurement where the first half stops (at_end)
    'custom_hooks': [
        dict(type='TrainingStabilityHook', interval=HALF, num_samples=4,
             at_end=False)],
}
TIMING = ('time', 'data_time')


def train(config, work_dir, max_iters, resume=False):
    cfg = Config.fromfile(ROOT / config)
    cfg.merge_from_dict(dict(OPTIONS, **{'train_cfg.max_iters': max_iters}))
    cfg.work_dir = str(work_dir)
    cfg.resume = resume
    own_experiment(cfg)
    Runner.from_cfg(cfg).train()


def logged_losses(work_dir):
    """Per-iteration log values of every run in ``work_dir``, by step."""
    steps = {}
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in scalars.read_text().splitlines():
            entry = json.loads(line)
            steps.setdefault(entry['step'], {}).update(
                {k: v for k, v in entry.items() if k not in TIMING})
    return steps


def assert_same(a, b, where='checkpoint'):
    """Exact equality of nested checkpoint contents."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f'{where}[{key!r}]')
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} != {b!r}'


def history(buffer):
    """The raw values a message-hub ``HistoryBuffer`` holds, one per iter."""
    values, counts = buffer.data
    return values.tolist(), counts.tolist()


@pytest.mark.parametrize('config', DEMOS)
def test_resume_reproduces_straight_run_exactly(tmp_path, config):
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    train(config, straight, ITERS)
    train(config, resumed, HALF)
    assert (resumed / f'iter_{HALF}.pth').is_file()
    train(config, resumed, ITERS, resume=True)

    # the losses of every iteration, as logged (interval 1)
    straight_log, resumed_log = logged_losses(straight), logged_losses(
        resumed)
    assert sorted(straight_log) == list(range(1, ITERS + 1))
    for step in straight_log:
        assert resumed_log[step] == straight_log[step], f'iteration {step}'

    a = torch.load(straight / f'iter_{ITERS}.pth', map_location='cpu')
    b = torch.load(resumed / f'iter_{ITERS}.pth', map_location='cpu')
    assert a['meta']['iter'] == b['meta']['iter'] == ITERS
    # every weight and buffer: G, D, EMA G with its steps, w_avg
    state = a['state_dict']
    assert any(k.startswith('generator_ema.') and k.endswith('steps')
               for k in state)
    if 'stylegan' in config:
        assert any(k.endswith('w_avg') for k in state)
    assert_same(a['state_dict'], b['state_dict'], 'state_dict')
    # both optimizers' states (RMSprop square_avg, step)
    assert set(a['optimizer']) == {'generator', 'discriminator'}
    assert_same(a['optimizer'], b['optimizer'], 'optimizer')
    assert_same(a['training_stability'], b['training_stability'],
                'training_stability')
    # the random states at the end agree too
    assert_same(a[CKPT_KEY], b[CKPT_KEY], CKPT_KEY)
    # the raw per-iteration values the message hub keeps (all of them)
    hub_a, hub_b = (c['message_hub']['log_scalars'] for c in (a, b))
    losses = [k for k in hub_a if k.startswith('train/loss')]
    assert 'train/loss_gen' in losses and 'train/loss' in losses
    for key in losses:
        values, _ = history(hub_a[key])
        assert len(values) == ITERS, key
        assert history(hub_a[key]) == history(hub_b[key]), key
