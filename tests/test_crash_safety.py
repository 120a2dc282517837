# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Checkpoints are written atomically; a run killed at any moment resumes."""
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmengine import MessageHub, MMLogger
from mmengine.fileio import get_file_backend, join_path
from mmengine.runner.checkpoint import find_latest_checkpoint, save_checkpoint

from msg_plugin.atomic_checkpoint import (FILE_MODE, TEMP_SUFFIX,
                                          AtomicCheckpointHook,
                                          AtomicLocalBackend, atomic_write,
                                          remove_stale_temp_files)
from test_tools import CONFIG, ROOT, TINY

BACKEND_ARGS = dict(backend='atomic_local')


def temp_files(folder):
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.name.endswith(TEMP_SUFFIX))


def load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


class FailingWriter:
    """A file object that writes half of the data, then fails."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def write(self, data):
        self.file.write(data[:len(data) // 2])
        self.file.flush()
        raise OSError(28, 'No space left on device')

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_backend_writes_whole_files_and_no_temp_files(tmp_path):
    backend = get_file_backend(backend_args=BACKEND_ARGS)
    assert type(backend) is AtomicLocalBackend
    path = tmp_path / 'new' / 'dir' / 'iter_1.pth'
    backend.put(b'first', path)  # creates the folders, like LocalBackend
    assert backend.get(path) == b'first'
    backend.put(b'second, longer', str(path))  # replaces
    assert backend.get(path) == b'second, longer'
    text = tmp_path / 'last_checkpoint'
    backend.put_text('/work_dirs/ü/iter_1.pth', text)
    assert backend.get_text(text) == '/work_dirs/ü/iter_1.pth'
    backend.put_text('x', text, encoding='latin-1')
    assert text.read_text() == 'x'
    assert os.stat(path).st_mode & 0o777 == FILE_MODE  # not mkstemp's 0600
    assert temp_files(path.parent) == [] and temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last_checkpoint',
                                                          'new']


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    backend = AtomicLocalBackend()
    path = tmp_path / 'iter_2.pth'
    backend.put(b'complete checkpoint', path)
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, 'fdopen',
                        lambda *a, **k: FailingWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match='No space left'):
        backend.put(b'new checkpoint' * 1000, path)
    with pytest.raises(OSError, match='No space left'):
        atomic_write(b'new pointer', tmp_path / 'last_checkpoint')
    monkeypatch.undo()
    assert path.read_bytes() == b'complete checkpoint'
    assert not (tmp_path / 'last_checkpoint').exists()
    assert temp_files(tmp_path) == []  # the failed writes cleaned up


def test_stale_temp_files_go_at_the_next_save(tmp_path):
    dead = f'.iter_2.pth.{dead_pid()}.abc{TEMP_SUFFIX}'
    alive = f'.iter_2.pth.{os.getppid()}.abc{TEMP_SUFFIX}'  # a running writer
    other = f'.iter_4.pth.{dead_pid()}.abc{TEMP_SUFFIX}'
    for name in (dead, alive, other):
        (tmp_path / name).write_bytes(b'half a checkpoint')
    AtomicLocalBackend().put(b'data', tmp_path / 'iter_2.pth')
    assert temp_files(tmp_path) == sorted([alive, other])
    assert remove_stale_temp_files(tmp_path) == [str(tmp_path / other)]
    assert temp_files(tmp_path) == [alive]


class FakeRunner:
    """What CheckpointHook uses of a Runner; saves ``meta`` and the hub."""

    def __init__(self, work_dir, name):
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance(name)
        self.logger = MMLogger.get_instance(name)
        self.epoch, self.iter, self.max_iters = 0, 0, 100
        self.saved = []
        self.fail_next_save = False

    def save_checkpoint(self, out_dir, filename, file_client_args=None,
                        save_optimizer=True, save_param_scheduler=True,
                        meta=None, by_epoch=True, backend_args=None):
        self.saved.append(filename)
        # when a save starts, the pointer and its checkpoint are still there
        last = find_latest_checkpoint(self.work_dir)
        assert last is None or Path(last).is_file()
        if self.fail_next_save:
            raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the save
        save_checkpoint(
            dict(meta=meta, message_hub=self.message_hub.state_dict()),
            join_path(out_dir, filename, backend_args=backend_args),
            backend_args=backend_args)


def train_iters(hook, runner, iters):
    for _ in range(iters):
        hook.after_train_iter(runner, runner.iter)
        runner.iter += 1


def test_hook_writes_pointer_after_checkpoint_and_prunes_last(tmp_path):
    runner = FakeRunner(tmp_path, 'atomic_hook_order')
    stale = tmp_path / f'.iter_9.pth.{dead_pid()}.abc{TEMP_SUFFIX}'
    stale.write_bytes(b'left by a killed run')
    hook = AtomicCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1,
                                save_best='swd/avg', rule='less')
    hook.before_train(runner)
    assert hook.backend_args == BACKEND_ARGS  # chosen for a local out_dir
    assert isinstance(hook.file_backend, AtomicLocalBackend)
    assert not stale.exists()

    train_iters(hook, runner, 3)
    assert runner.saved == ['iter_1.pth', 'iter_2.pth', 'iter_3.pth']
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_3.pth']
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_3.pth')
    ckpt = load(tmp_path / 'iter_3.pth')
    assert ckpt['meta']['iter'] == 3
    # saved before iter_2 was deleted: a resume would delete it again
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [2, 3]
    assert runner.message_hub.get_info('keep_ckpt_ids') == [3]

    # save_best: the best checkpoints go through the same backend
    hook.after_val_epoch(runner, {'swd/avg': 2.0})
    assert (tmp_path / 'best_swd_avg_iter_3.pth').is_file()
    train_iters(hook, runner, 1)
    hook.after_val_epoch(runner, {'swd/avg': 1.0})
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'best_swd_avg_iter_4.pth', 'iter_4.pth']
    assert load(tmp_path / 'best_swd_avg_iter_4.pth')['meta'] == dict(
        epoch=0, iter=4)

    # an exception in the middle of a save loses nothing
    runner.fail_next_save = True
    with pytest.raises(KeyboardInterrupt):
        train_iters(hook, runner, 1)
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    assert (tmp_path / 'iter_4.pth').is_file()
    assert temp_files(tmp_path) == []


def test_demo_configs_select_the_atomic_hook():
    from mmengine import Config
    for config in (CONFIG, 'configs/msg_progan_ffhq.py'):
        hook = Config.fromfile(ROOT / config).default_hooks.checkpoint
        assert hook.type == 'AtomicCheckpointHook'
        assert hook.backend_args == BACKEND_ARGS


# Runs tools/train.py in-process and SIGKILLs it at a chosen point. The
# patches live here, in the test, never in the product.
DRIVER = textwrap.dedent('''
    import os, runpy, signal, sys
    sys.path.insert(0, {root!r})
    MODE, AT = os.environ['KILL_MODE'], int(os.environ['KILL_AT'])


    def die(where):
        print(f'KILLED {{where}}', flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


    import msg_plugin  # noqa: F401
    if MODE == 'iteration':
        from msg_plugin.msg_gan import MSGGAN
        real_step, calls = MSGGAN.train_step, []

        def train_step(self, *args, **kwargs):
            out = real_step(self, *args, **kwargs)
            calls.append(1)
            if len(calls) == AT:
                die(f'during iteration {{AT}} (after its optimizer steps, '
                    'before its hooks)')
            return out

        MSGGAN.train_step = train_step
    elif MODE == 'save':
        real_fdopen = os.fdopen

        class HalfThenDie:
            def __init__(self, file, name):
                self.file, self.name = file, name

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.file.close()

            def __getattr__(self, name):
                return getattr(self.file, name)

            def write(self, data):
                self.file.write(data[:len(data) // 2])
                self.file.flush()
                os.fsync(self.file.fileno())
                die(f'during the save of iter_{{AT}}.pth ({{len(data) // 2}} '
                    f'of {{len(data)}} bytes in {{self.name}}, before the '
                    'rename)')

        def fdopen(fd, *args, **kwargs):
            file = real_fdopen(fd, *args, **kwargs)
            name = os.path.basename(os.readlink(f'/proc/self/fd/{{fd}}'))
            if name.startswith(f'.iter_{{AT}}.pth.'):
                return HalfThenDie(file, name)
            return file

        os.fdopen = fdopen
    elif MODE == 'after_save':
        from msg_plugin.atomic_checkpoint import AtomicCheckpointHook
        real_save = AtomicCheckpointHook._save_checkpoint_with_step

        def save(self, runner, step, meta):
            real_save(self, runner, step, meta)
            if step == AT:
                die(f'right after the save of iter_{{AT}}.pth (pointer '
                    'written, older checkpoint deleted)')

        AtomicCheckpointHook._save_checkpoint_with_step = save
    sys.argv = [os.path.join({root!r}, 'tools/train.py')] + sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')

MAX_ITERS = 5
# checkpoint every 2 iterations, keep only the newest: a save that deleted the
# old checkpoint first could lose everything
OPTIONS = TINY + ['default_hooks.checkpoint.max_keep_ckpts=1']
# (kill mode, where, expected last_checkpoint iteration after the kill)
SCENARIOS = {
    'a': ('iteration', 3, 2),
    'b': ('save', 4, 2),
    'c': ('after_save', 4, 4),
}


def start(script, work_dir, env, *extra):
    return subprocess.Popen(
        [sys.executable, str(script), CONFIG, '--work-dir', str(work_dir),
         *extra, '--cfg-options', *OPTIONS, f'train_cfg.max_iters={MAX_ITERS}'],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def finish(procs):
    return {key: (proc.communicate(timeout=600)[0], proc.returncode)
            for key, proc in procs.items()}


def check_final_names(work_dir):
    """Every file under a final name is complete; returns the pointer's iter."""
    for path in Path(work_dir).glob('*.pth'):
        load(path)  # raises when truncated
    pointer = find_latest_checkpoint(str(work_dir))
    assert pointer and Path(pointer).parent == Path(work_dir)
    return Path(pointer).name, load(pointer)['meta']['iter']


@pytest.mark.slow
def test_killed_runs_resume_from_a_complete_checkpoint(tmp_path):
    """SIGKILL (a) mid-iteration, (b) mid-save, (c) right after a save."""
    driver = tmp_path / 'kill_driver.py'
    driver.write_text(DRIVER.format(root=str(ROOT)))
    # the three runs share 2 cores: one torch thread each
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    dirs = {key: tmp_path / key for key in SCENARIOS}

    killed = finish({
        key: start(driver, dirs[key],
                   dict(env, KILL_MODE=mode, KILL_AT=str(at)))
        for key, (mode, at, _) in SCENARIOS.items()})
    print()
    for key, (mode, at, expected) in SCENARIOS.items():
        out, code = killed[key]
        assert code == -signal.SIGKILL, f'[{key}] not killed:\n{out[-4000:]}'
        where, = re.findall(r'^KILLED (.*)$', out, re.M)
        name, it = check_final_names(dirs[key])
        assert (name, it) == (f'iter_{expected}.pth', expected), key
        partial = temp_files(dirs[key])
        assert len(partial) == (mode == 'save'), partial
        print(f'[{key}] killed {where}; last_checkpoint -> {name} (meta iter '
              f'{it}), files: {sorted(p.name for p in dirs[key].glob("*.pth"))}'
              f'{", temp: " + partial[0] if partial else ""}')

    resumed = finish({key: start('tools/train.py', dirs[key], env, '--resume')
                      for key in SCENARIOS})
    for key, (mode, at, expected) in SCENARIOS.items():
        out, code = resumed[key]
        assert code == 0, f'[{key}] resume failed:\n{out[-4000:]}'
        line, = re.findall(r'resumed epoch: \d+, iter: \d+', out)
        assert line == f'resumed epoch: 0, iter: {expected}', key
        assert (mode == 'save') == ('left by an interrupted save' in out)
        name, it = check_final_names(dirs[key])
        assert (name, it) == (f'iter_{MAX_ITERS}.pth', MAX_ITERS), key
        assert [p.name for p in dirs[key].glob('*.pth')] == [name]
        assert temp_files(dirs[key]) == []
        print(f'[{key}] resumed: "{line}", trained to iter {MAX_ITERS}; '
              f'last_checkpoint -> {name} (meta iter {it})')
