# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Every config under configs/ loads, builds and trains one iteration on CPU.

Widths and batch are shrunk the way a user would, with ``--cfg-options`` keys
(``Config.merge_from_dict``); configs that read an image folder get a few real
images (MNIST digits, enlarged, in colour) at their resolution. A new config is
picked up by the glob without touching this file.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmagic.registry import METRICS
from msg_plugin.mnist_dataset import EmbeddedMNISTDataset
from runner_helpers import own_experiment

ROOT = Path(__file__).resolve().parents[1]
# the 1024-px configs take 20-40 s each on 2 cores (first-iteration oneDNN set-up
# at full resolution, even with tiny widths): marked slow, run in CI
CONFIGS = [
    pytest.param(
        path,
        id=path.stem,
        marks=[pytest.mark.slow] if any(
            name in path.stem for name in ('ffhq', 'celebahq')) else [])
    for path in sorted((ROOT / 'configs').glob('*.py'))
]
# widths 8 up to 128 px, halving to 1 at 1024; the StyleGAN mapping at 8
SHRINK = {
    'model.generator.channel_base': 1024,
    'model.generator.max_channels': 8,
    'model.discriminator.channel_base': 1024,
    'model.discriminator.max_channels': 8,
    'train_dataloader.batch_size': 2,
    'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'train_cfg.max_iters': 1,
    'default_hooks.logger.interval': 1,
}


def resolution(cfg: Config) -> int:
    gen = cfg.model.generator
    return gen.get('out_scale') or gen['out_size']


def write_digit_folder(folder: Path, size: int, count: int = 4) -> None:
    """A few MNIST digits as RGB PNGs of ``size`` x ``size`` (in sub-folders,
    as FFHQ and the CIFAR-10 converter lay them out)."""
    digits = EmbeddedMNISTDataset(img_size=32, pipeline=[])
    for i in range(count):
        grey = cv2.resize(digits[i]['gt'], (size, size),
                          interpolation=cv2.INTER_CUBIC)
        rgb = np.stack([grey, 255 - grey, grey // 2], axis=-1)
        out = folder / f'{i % 2:02d}' / f'{i:05d}.png'
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), rgb)


@pytest.mark.parametrize('path', CONFIGS)
def test_config_trains_one_iteration(path, tmp_path):
    cfg = Config.fromfile(path)
    options = dict(SHRINK, work_dir=str(tmp_path / 'work'))
    if cfg.model.generator.type == 'MSGStyleGenerator':
        options['model.generator.style_channels'] = 8
    if cfg.train_dataloader.dataset.type == 'ImageFolderDataset':
        data = tmp_path / 'data'
        write_digit_folder(data, resolution(cfg))
        options['train_dataloader.dataset.data_root'] = str(data)
    cfg.merge_from_dict(options)
    init_default_scope('mmagic')
    # the metrics of the config build (weights located, arguments valid)
    for metric in cfg.val_evaluator.metrics:
        METRICS.build(metric)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None

    own_experiment(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    scalars = runner.message_hub.log_scalars
    losses = [k for k in scalars if k.startswith('train/loss')]
    assert losses, sorted(scalars)
    for key in losses:
        assert np.isfinite(scalars[key].current()), key
    model = runner.model
    fed = model.discriminator.resolutions
    assert fed[-1] == resolution(cfg)
    with torch.no_grad():
        scales = model.generate_scales(2)
    assert [s.shape[-1] for s in scales] == fed
    assert scales[-1].shape[1] == model.discriminator.img_channels


def test_paper_schedule_keeps_the_best_checkpoint_by_fid(tmp_path):
    """FID of the EMA generator runs in training and save_best picks it up."""
    cfg = Config.fromfile(ROOT / 'configs/msg_progan_cifar10.py')
    data = tmp_path / 'data'
    write_digit_folder(data, 32, count=8)
    cfg.merge_from_dict(
        dict(SHRINK, **{
            'work_dir': str(tmp_path / 'work'),
            'train_cfg.max_iters': 2,
            'train_cfg.val_interval': 1,
            'train_dataloader.dataset.data_root': str(data),
            'val_dataloader.dataset.data_root': str(data),
            'val_dataloader.num_workers': 0,
            'val_dataloader.batch_size': 4,
        }))
    fid = dict(cfg.val_evaluator.metrics[0], fake_nums=8)
    cfg.val_evaluator = dict(metrics=[fid])
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    own_experiment(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    best = sorted(p.name for p in (tmp_path / 'work').glob('best_*.pth'))
    assert len(best) == 1 and best[0].startswith('best_FID-50k_fid_iter_')
    scores = runner.message_hub.get_info('best_score')
    assert np.isfinite(scores) and scores > 0
