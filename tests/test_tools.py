# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""End-to-end runs of tools/ on the MNIST demo config with tiny widths."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/msg_progan_mnist.py'
DEMOS = ['configs/msg_progan_mnist.py', 'configs/msg_stylegan_mnist.py']
TINY = [
    f'model.{net}.{key}={value}' for net in ('generator', 'discriminator')
    for key, value in (('channel_base', 64), ('max_channels', 8))
] + [
    'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=2', 'custom_hooks.0.interval=2',
    'custom_hooks.1.interval=2',
    'train_cfg.val_begin=1000',  # no evaluation while training here
    'test_dataloader.batch_size=8',
    'test_evaluator.metrics.0.fake_nums=32',
    'test_evaluator.metrics.1.fake_nums=8', 'test_evaluator.metrics.1.real_nums=8',
    'test_evaluator.metrics.1.subset_size=4',
    'test_evaluator.metrics.2.fake_nums=8', 'test_evaluator.metrics.2.real_nums=8'
]


def run(*args, env=None, expect_ok=True):
    proc = subprocess.run([str(a) for a in args],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    output = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == expect_ok, output[-4000:]
    return output


def train(work_dir, max_iters, *extra, env=None, config=CONFIG):
    return run(sys.executable, 'tools/train.py', config, '--work-dir',
               work_dir, *extra, '--cfg-options',
               f'train_cfg.max_iters={max_iters}', *TINY, env=env)


def logged_steps(run_dirs):
    steps = set()
    for scalars in run_dirs.glob('vis_data/scalars.json'):
        for line in scalars.read_text().splitlines():
            steps.add(json.loads(line)['step'])
    return steps


@pytest.mark.slow
@pytest.mark.parametrize('config', DEMOS)
def test_train_writes_sheets_and_checkpoints_then_resumes(tmp_path, config):
    train(tmp_path, 4, config=config)
    assert (tmp_path / 'iter_4.pth').is_file()
    sheets = sorted(tmp_path.glob('*/vis_data/vis_image/multi_scale_*.png'))
    assert [s.name for s in sheets] == ['multi_scale_2.png', 'multi_scale_4.png']
    # 8 fixed latents (rows) x 4 scales (columns) of 32 px, 2 px padding
    assert cv2.imread(str(sheets[-1])).shape == (8 * 34 + 2, 4 * 34 + 2, 3)
    assert logged_steps(next(tmp_path.glob('2*'))) == {1, 2, 3, 4}
    history = json.loads((tmp_path / 'stability.json').read_text())
    assert [h['iter'] for h in history] == [0, 2, 4]

    first_run = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    out = train(tmp_path, 6, '--resume', config=config)
    assert 'resumed epoch: 0, iter: 4' in out
    ckpt = torch.load(tmp_path / 'iter_6.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 6
    assert {'generator_ema', 'discriminator'} <= {
        k.split('.')[0] for k in ckpt['state_dict']}
    assert {'generator', 'discriminator'} == set(ckpt['optimizer'])
    new_run, = (p for p in tmp_path.iterdir()
                if p.is_dir() and p.name not in first_run)
    assert logged_steps(new_run) == {5, 6}
    history = json.loads((tmp_path / 'stability.json').read_text())
    assert [h['iter'] for h in history] == [0, 2, 4, 6]  # resumed curve
    assert (tmp_path / 'stability.png').is_file()


@pytest.mark.slow
@pytest.mark.parametrize('config', DEMOS)
def test_checkpoint_evaluates_and_samples_through_mmagic(tmp_path, config):
    train(tmp_path, 2, config=config)
    out_file = tmp_path / 'metrics.json'
    run(sys.executable, 'tools/test.py', config, tmp_path / 'iter_2.pth',
        '--work-dir', tmp_path, '--out', out_file, '--cfg-options', *TINY)
    metrics = json.loads(out_file.read_text())

    swd = {'avg', '16', '32'}  # SWD per Laplacian level
    inception = {f'Inception-64/{k}' for k in ('fid', 'kid')} | {
        f'Inception-64/FID-{r}/fid' for r in (4, 8, 16, 32)}
    assert swd | inception <= set(metrics)
    assert all(metrics[k] > 0 for k in swd | inception - {
        'Inception-64/kid'})

    # mmagic's own inferencer loads the config the run saved and the pickle
    from mmagic.apis.inferencers import Inferencers
    inferencer = Inferencers(
        task='unconditional',
        config=str(tmp_path / Path(config).name),
        ckpt=str(tmp_path / 'iter_2.pth'),
        extra_parameters=dict(num_batches=3, sample_model='ema'))
    out = tmp_path / 'samples.png'
    _, images = inferencer(result_out_dir=str(out))
    assert images.shape == (3, 1, 32, 32)
    assert 0 <= images.min() < images.max() <= 1
    assert cv2.imread(str(out)).shape[:2] == (36, 104)  # a row of 3, 2 px pad


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dist_train_runs_two_processes_on_cpu(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))
    out = run('bash', 'tools/dist_train.sh', CONFIG, 2, '--work-dir',
              tmp_path, '--cfg-options', 'train_cfg.max_iters=2', *TINY,
              env=env)
    # mmengine reports the world size as 'GPU number', also on CPU
    assert 'Distributed training: True' in out and 'GPU number: 2' in out
    assert (tmp_path / 'iter_2.pth').is_file()


def test_amp_without_cuda_is_one_clear_error(tmp_path):
    out = run(sys.executable, 'tools/train.py', CONFIG, '--amp',
              '--work-dir', tmp_path, expect_ok=False)
    assert '--amp needs a CUDA GPU' in out


@pytest.mark.slow
def test_step_speed_benchmark_reports_both_demos():
    out = run(sys.executable, 'tools/bench/step_speed.py', *DEMOS, '--steps',
              1, '--warmup', 0, '--cfg-options', *TINY[:4],
              'train_dataloader.batch_size=4')
    last, = (line for line in out.splitlines()
             if line.startswith('msg_progan_mnist_s_per_iter='))
    pairs = dict(pair.split('=') for pair in last.split())
    assert set(pairs) == {
        'msg_progan_mnist_s_per_iter', 'msg_stylegan_mnist_s_per_iter',
        'msg_stylegan_mnist_vs_msg_progan_mnist'
    }
    assert all(float(v) > 0 for v in pairs.values())
