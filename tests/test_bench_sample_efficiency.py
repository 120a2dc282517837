# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""tools/bench/sample_efficiency.py end to end with tiny widths and budget.

The Inception is a tiny seeded random CNN (TorchScript, as in
test_offline_metrics.py) and the real statistics go to the test's folder, so
the run is fast and leaves nothing in the user cache.
"""
import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'tools' / 'bench' / 'sample_efficiency.py'
TINY = [
    f'model.{net}.{key}={value}' for net in ('generator', 'discriminator')
    for key, value in (('channel_base', 64), ('max_channels', 8))
] + ['train_dataloader.batch_size=4', 'default_hooks.logger.interval=1']


def load_bench():
    spec = importlib.util.spec_from_file_location('sample_efficiency', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_inception(path: Path) -> Path:
    """A seeded random CNN trunk: (N, 3, 299, 299) in [-1, 1) -> (N, 16)."""
    torch.manual_seed(0)
    trunk = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=4), nn.Tanh(),
        nn.Conv2d(8, 16, 5, stride=4), nn.Tanh(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten())
    torch.jit.save(torch.jit.script(trunk.eval()), str(path))
    return path


def run_bench(out: Path, inception: Path, *extra: str) -> str:
    cmd = [
        sys.executable, SCRIPT, '--out', out, '--models', 'msg_progan',
        'progan_no_msg', '--images', 16, '--eval-every', 8, '--samples', 16,
        '--inception-path', inception, '--real-stats', out / 'real.pkl',
        *extra, '--cfg-options', *TINY
    ]
    proc = subprocess.run([str(c) for c in cmd], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return proc.stdout


def test_images_to_reach_interpolates_between_evaluation_points():
    bench = load_bench()
    curve = [(100, 50.), (200, 30.), (300, 20.)]
    assert bench.images_to_reach(curve, 40.) == (150., False)
    assert bench.images_to_reach(curve, 20.) == (300., False)
    assert bench.images_to_reach(curve, 60.) == (100., True)  # upper bound
    needed, first = bench.images_to_reach(curve, 10.)
    assert math.isnan(needed) and not first
    done = {
        'msg_progan': [dict(images_shown=x, fid=f, kid=0.1)
                       for x, f in curve],
        'progan_no_msg': [dict(images_shown=x, fid=f + 20, kid=0.2)
                          for x, f in curve],
    }
    lines, pairs = bench.summarize(done)
    assert pairs[:3] == ['progan_images_fraction=0.500',
                         'msg_progan_final_fid=20.000',
                         'msg_progan_final_kid=0.10000']
    assert 'after 150 images' in lines[0] and 'stylegan' in lines[1]


@pytest.mark.slow
def test_sample_efficiency_tiny_run_writes_csv_plot_and_summary(
        tmp_path, capsys):
    inception = tiny_inception(tmp_path / 'tiny_inception.pt')
    out = tmp_path / 'bench'
    stdout = run_bench(out, inception)

    with open(out / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ['model', 'images_shown', 'fid', 'kid', 'kid_std',
                             'seconds']
    assert [(r['model'], int(r['images_shown'])) for r in rows] == [
        ('msg_progan', 8), ('msg_progan', 16), ('progan_no_msg', 8),
        ('progan_no_msg', 16)
    ]
    for row in rows:
        assert all(math.isfinite(float(row[k]))
                   for k in ('fid', 'kid', 'kid_std', 'seconds'))
        assert float(row['fid']) > 0 and float(row['seconds']) > 0
    assert (out / 'fid_vs_images.png').stat().st_size > 1000
    assert (out / 'work_dirs' / 'msg_progan' / 'iter_4.pth').is_file()

    last = stdout.strip().splitlines()[-1]
    pairs = dict(pair.split('=') for pair in last.split())
    assert list(pairs) == [
        'progan_images_fraction', 'msg_progan_final_fid',
        'msg_progan_final_kid', 'progan_no_msg_final_fid',
        'progan_no_msg_final_kid'
    ]
    fraction = float(pairs['progan_images_fraction'])
    assert math.isnan(fraction) or 0 < fraction <= 1
    assert float(pairs['msg_progan_final_fid']) == pytest.approx(
        float(rows[1]['fid']), abs=1e-3)

    # a rerun (in-process: no Runner is built) skips the complete models and
    # prints the same summary; other settings in the same folder are refused
    bench = load_bench()
    same = [
        '--eval-every', '8', '--samples', '16', '--inception-path',
        str(inception), '--real-stats', str(out / 'real.pkl'),
        '--cfg-options', *TINY
    ]
    args = ['--out', str(out), '--models', 'msg_progan', 'progan_no_msg',
            '--images', '16', *same]
    capsys.readouterr()
    bench.main(args)
    again = capsys.readouterr().out
    assert 'msg_progan: complete' in again and 'progan_no_msg: complete' in \
        again
    assert again.strip().splitlines()[-1] == last
    with pytest.raises(SystemExit, match='other settings.*images: 16 -> 32'):
        bench.main(['--out', str(out), '--images', '32', *same])
