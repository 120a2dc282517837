# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The suite mode of tools/bench/step_speed.py, at tiny widths."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ('msg', 'msg_off', 'msg_fused', 'pggan', 'pggan_unfused', 'msgstyle',
          'msgstyle_off', 'stylegan1')
RATIOS = ('msg_vs_off', 'msg_vs_pggan', 'msg_vs_pggan_unfused',
          'msg_fused_vs_pggan', 'msgstyle_vs_off', 'msgstyle_vs_stylegan1')


def test_paper_suite_reports_every_model_and_ratio():
    # widths 1/64 of the paper's (8 channels), 16x16, batch 4: one warm-up
    # round (the FLOP count) and two timed rounds of all eight models, each
    # also trained once in its own forked memory probe
    proc = subprocess.run(
        [
            sys.executable, 'tools/bench/step_speed.py', '--suite', 'paper',
            '--resolutions', '16', '--width-scale', '0.015625', '--batch',
            '4', '--warmup', '1', '--steps', '2', '--memory-steps', '1'
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    lines = proc.stdout.strip().splitlines()
    pairs = dict(pair.split('=') for pair in lines[-1].split())
    expected = {f'{ratio}_16' for ratio in RATIOS} | {'conv_peak_gflops_16'}
    for model in MODELS:
        key = f'{model}_16'
        expected |= {
            f'{model}_s_16', f'gflop_{key}', f'gflops_{key}',
            f'peak_fraction_{key}', f'peak_rss_mib_{key}', f'step_rss_mib_{key}'
        }
    assert set(pairs) == expected
    values = {key: float(value) for key, value in pairs.items()}
    assert all(value > 0 for value in values.values()), values
    # the multi-scale connections add to-RGB / from-RGB work, never remove it
    assert values['gflop_msg_16'] > values['gflop_msg_off_16']
    assert values['gflop_msgstyle_16'] > values['gflop_msgstyle_off_16']
    # a fused down-conv is 4/9 of the conv it replaces, on both sides
    assert values['gflop_msg_fused_16'] < values['gflop_msg_16']
    assert values['gflop_pggan_16'] < values['gflop_pggan_unfused_16']
    # the human-readable table names every model
    table = '\n'.join(lines[:-1])
    assert all(f'\n{model} ' in table for model in MODELS)
