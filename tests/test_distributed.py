# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""DDP on CPU: ``tools/dist_train.sh CONFIG 2`` (torchrun, gloo, 2 processes).

Rank 0 alone writes checkpoints, so a test-only hook (written to ``tmp_path``,
imported through a config that inherits the demo config and extends
``custom_imports``: nothing of it is in the product) makes every rank save its
own weights and optimizer states after training and print their digests.
"""
import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from mmengine import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import get_state_dict
from runner_helpers import own_experiment
from test_tools import TINY, free_port, run

ROOT = Path(__file__).resolve().parents[1]
PROGAN, STYLEGAN = 'configs/msg_progan_mnist.py', 'configs/msg_stylegan_mnist.py'

DUMP_HOOK = '''
"""Test-only: every rank saves its weights and optimizer states."""
import hashlib
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner.checkpoint import get_state_dict
from mmagic.registry import HOOKS


def digest(tensors):
    sha = hashlib.sha256()
    for key in sorted(tensors):
        sha.update(key.encode())
        sha.update(tensors[key].detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()[:16]


@HOOKS.register_module()
class RankDumpHook(Hook):
    priority = 'LOWEST'

    def __init__(self, out_dir):
        self.out_dir = out_dir

    def before_train(self, runner):
        model = runner.model.module
        wrapped = {name: getattr(sub, 'find_unused_parameters', None)
                   for name, sub in model.named_children()
                   if hasattr(sub, 'find_unused_parameters')}
        print(f'RANK {get_rank()} starts at iter {runner.iter} '
              f'wrapper={type(runner.model).__name__} '
              f'find_unused_parameters={wrapped}', flush=True)

    def after_train(self, runner):
        rank = get_rank()
        state = {k: v.detach().cpu().clone()
                 for k, v in get_state_dict(runner.model).items()}
        torch.save(dict(iter=runner.iter, state_dict=state,
                        optimizer=runner.optim_wrapper.state_dict()),
                   osp.join(self.out_dir, f'rank{rank}.pth'))
        groups = {}
        for key, value in state.items():
            groups.setdefault(key.split('.')[0], {})[key] = value
        print(f'RANK {rank} iter {runner.iter} weights ' + ' '.join(
            f'{name}={digest(t)}' for name, t in sorted(groups.items())),
            flush=True)
'''


def dist_train(tmp_path, config, name, max_iters, *options, flags=()):
    """Train ``config`` in 2 processes; every rank dumps into ``tmp_path/name``.

    ``options`` are extra ``--cfg-options``, ``flags`` extra flags of train.py.

    Returns:
        tuple: (work dir, combined output of both ranks).
    """
    hooks = tmp_path / 'hooks'
    hooks.mkdir(exist_ok=True)
    (hooks / 'rank_dump_hook.py').write_text(DUMP_HOOK)
    work_dir = tmp_path / name
    work_dir.mkdir()
    # custom_imports are imported while the config file is read, before
    # --cfg-options apply: extend them in a config inheriting the demo's
    config_file = hooks / f'{name}.py'
    config_file.write_text(
        f'_base_ = [{str(ROOT / config)!r}]\n'
        "custom_imports = dict(imports=['msg_plugin', 'rank_dump_hook'], "
        'allow_failed_imports=False)\n'
        f'default_hooks = dict(rank_dump=dict(type="RankDumpHook", '
        f'out_dir={str(work_dir)!r}))\n')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               PYTHONPATH=str(hooks))
    out = run('bash', 'tools/dist_train.sh', config_file, 2, '--work-dir',
              work_dir, *flags, '--cfg-options',
              f'train_cfg.max_iters={max_iters}', *TINY, *options, env=env)
    assert 'Distributed training: True' in out and 'GPU number: 2' in out
    for line in out.splitlines():
        if line.startswith('RANK '):
            print(line)
    return work_dir, out


def rank_dumps(work_dir):
    return [torch.load(work_dir / f'rank{r}.pth', map_location='cpu')
            for r in (0, 1)]


def tensors(obj, prefix=''):
    """Every tensor in nested dicts / lists, by path."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, (list, tuple)) else ()
    found = {}
    for key, value in items:
        found.update(tensors(value, f'{prefix}/{key}'))
    return found


def assert_equal_tensors(a, b, skip=()):
    a, b = tensors(a), tensors(b)
    assert a.keys() == b.keys()
    differ = [k for k in a if not k.endswith(skip)
              and not (a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]))]
    assert not differ, differ


def digests(out, rank):
    line, = (x for x in out.splitlines()
             if x.startswith(f'RANK {rank} iter '))
    return line.split(' weights ')[1]


@pytest.fixture(scope='module')
def progan_ddp_run(tmp_path_factory):
    """4 iterations of MSG-ProGAN in 2 processes (checkpoints at 2 and 4)."""
    return dist_train(tmp_path_factory.mktemp('ddp'), PROGAN, 'straight', 4)


@pytest.mark.slow
@pytest.mark.parametrize('config', [PROGAN, STYLEGAN])
def test_ddp_ranks_hold_the_same_weights(tmp_path, config, request):
    if config == PROGAN:
        work_dir, out = request.getfixturevalue('progan_ddp_run')
    else:
        work_dir, out = dist_train(tmp_path, config, 'straight', 4)
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    rank0, rank1 = rank_dumps(work_dir)
    assert rank0['iter'] == rank1['iter'] == 4
    # w_avg (StyleGAN's truncation centre) is a buffer: each rank tracks the
    # mean w of its own latents (broadcast_buffers=False), rank 0's is saved
    skip = ('w_avg', )
    assert_equal_tensors(rank0['state_dict'], rank1['state_dict'], skip)
    assert_equal_tensors(rank0['optimizer'], rank1['optimizer'])
    # rank 0 saved the weights it holds
    assert_equal_tensors(ckpt['state_dict'], rank0['state_dict'])
    assert_equal_tensors(ckpt['optimizer'], rank0['optimizer'])
    if config == PROGAN:  # no buffers that differ: the digests agree
        assert digests(out, 0) == digests(out, 1)
    # every rank's random states are in the checkpoint (seeded per rank)
    states = ckpt['random_states']['ranks']
    assert len(states) == 2
    assert not torch.equal(states[0]['torch'], states[1]['torch'])


@pytest.mark.slow
def test_ddp_resume_continues_exactly(tmp_path, progan_ddp_run):
    straight, _ = progan_ddp_run
    # resume the straight run's checkpoint of iteration 2 in a new work dir
    work_dir, out = dist_train(tmp_path, PROGAN, 'resumed', 4,
                               f'load_from={straight / "iter_2.pth"}',
                               flags=['--resume'])
    assert 'resumed epoch: 0, iter: 2' in out
    assert re.search(r'RANK 0 starts at iter 2 ', out)
    assert re.search(r'RANK 1 starts at iter 2 ', out)
    assert 'RandomStateHook: restored the python, numpy, torch random ' \
        'states of iteration 2' in out
    steps = set()
    for scalars in work_dir.glob('*/vis_data/scalars.json'):
        steps |= {json.loads(line)['step']
                  for line in scalars.read_text().splitlines()}
    assert steps == {3, 4}
    ckpt = torch.load(work_dir / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    # both ranks continue exactly as the uninterrupted run
    for before, after in zip(rank_dumps(straight), rank_dumps(work_dir)):
        assert_equal_tensors(before['state_dict'], after['state_dict'])
        assert_equal_tensors(before['optimizer'], after['optimizer'])
    assert digests(out, 0) == digests(out, 1)
    done = torch.load(straight / 'iter_4.pth', map_location='cpu')
    assert_equal_tensors(done['state_dict'], ckpt['state_dict'])


@pytest.mark.slow
def test_ddp_trains_an_ablation_without_unused_parameters(tmp_path):
    # D reads 8 and 32 px only: G's other to-RGB layers get no gradient unless
    # the model leaves them out; DDP (find_unused_parameters=False) would fail
    # at the second iteration with 'Expected to have finished reduction'
    work_dir, out = dist_train(tmp_path, PROGAN, 'ablation', 3,
                               'model.msg_scales=[8]')
    assert 'MMSeparateDistributedDataParallel' in out
    for rank in (0, 1):
        assert (f"RANK {rank} starts at iter 0 wrapper="
                "MMSeparateDistributedDataParallel find_unused_parameters="
                "{'generator': False, 'discriminator': False}") in out
    assert 'unused parameters' not in out
    assert 'finished reduction' not in out
    assert (work_dir / 'iter_2.pth').is_file()
    ckpt = torch.load(work_dir / 'iter_3.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 3
    # G got the switch too: to-RGB heads for 8 and 32 px only
    rank0, rank1 = rank_dumps(work_dir)
    assert {k.split('.')[2] for k in rank0['state_dict']
            if k.startswith('generator.to_rgbs.')} == {'0', '1'}
    assert_equal_tensors(rank0['state_dict'], rank1['state_dict'])
    assert digests(out, 0) == digests(out, 1)


def test_checkpoint_with_ddp_wrapper_names_loads_into_a_plain_model(tmp_path):
    """A DDP checkpoint written before ``UnwrappedCheckpointHook`` (keys
    ``generator.module.*``) loads: mmengine alone would skip G and D."""
    cfg = Config.fromfile(ROOT / PROGAN)
    for net in ('generator', 'discriminator'):
        cfg.model[net].update(channel_base=64, max_channels=8)
    cfg.work_dir = str(tmp_path)
    own_experiment(cfg)
    runner = Runner.from_cfg(cfg)
    state = {k: v + 1 if v.is_floating_point() else v
             for k, v in get_state_dict(runner.model).items()}
    old = {k.replace('generator.', 'generator.module.', 1)
           if k.startswith('generator.') else
           k.replace('discriminator.', 'discriminator.module.', 1)
           if k.startswith('discriminator.') else k: v
           for k, v in state.items()}
    assert any(k.startswith('generator_ema.module.') for k in old)
    torch.save(dict(meta=dict(), state_dict=old), tmp_path / 'old.pth')
    runner.load_checkpoint(str(tmp_path / 'old.pth'))
    assert_equal_tensors(get_state_dict(runner.model), state)
