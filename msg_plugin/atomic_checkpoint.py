# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Crash-safe checkpoints: atomic file writes and a hook that orders them.

mmengine writes a checkpoint by opening its final name and writing into it, and
``CheckpointHook`` rewrites the ``last_checkpoint`` pointer (the file
``--resume`` follows) the same way; with ``max_keep_ckpts`` it deletes the
oldest checkpoint before saving the new one. A run killed at the wrong moment
leaves a truncated ``iter_N.pth``, an empty pointer, or (``max_keep_ckpts=1``)
a pointer to a deleted checkpoint. Here every write goes to a temporary file
next to the target and is renamed onto it once complete, and the hook deletes
old checkpoints only after the new one and the pointer are in place. Nothing in
mmengine is patched: the backend is registered with ``register_backend`` and the
hook subclasses ``CheckpointHook``.
"""
import os
import os.path as osp
import re
import tempfile
from pathlib import Path
from typing import List, Optional, Union

import mmengine
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, get_file_backend, register_backend
from mmengine.hooks import CheckpointHook
from mmagic.registry import HOOKS

#: Suffix of the temporary files; their names are
#: ``.<final name>.<pid>.<random>.partial`` in the folder of the final file.
TEMP_SUFFIX = '.partial'
_TEMP_NAME = re.compile(r'^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+' +
                        re.escape(TEMP_SUFFIX) + '$')
_umask = os.umask(0)
os.umask(_umask)
#: Mode of a new file, as ``open(path, 'wb')`` would create it.
FILE_MODE = 0o666 & ~_umask


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    if os.name == 'nt':  # os.kill would terminate it: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: another user's process
        return True
    return True


def remove_stale_temp_files(folder: Union[str, Path],
                            name: Optional[str] = None) -> List[str]:
    """Delete temporary files that killed writers left in ``folder``.

    A temporary file is stale when the process that created it (its pid is in
    the name) no longer runs, or is the calling process, which never leaves a
    write unfinished when it calls this. Files of other running processes are
    left alone.

    Args:
        folder (str | Path): Folder to clean (not recursive).
        name (str, optional): Only the temporary files of this final file
            name. Defaults to None (all of them).

    Returns:
        list[str]: Paths of the deleted files.
    """
    removed = []
    try:
        entries = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry)
        if match is None or (name is not None and match['name'] != name):
            continue
        pid = int(match['pid'])
        if pid != os.getpid() and _pid_alive(pid):
            continue
        path = osp.join(folder, entry)
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that it is complete or unchanged.

    The bytes go to ``.<name>.<pid>.<random>.partial`` in the same folder,
    which is flushed and fsynced, then renamed onto ``filepath`` with
    ``os.replace`` (atomic on POSIX and Windows within one file system) and the
    folder is fsynced. At any moment ``filepath`` holds either its previous
    content (or does not exist) or all of ``data``. If the write fails, the
    temporary file is removed and the error propagates; if the process is
    killed, the temporary file stays until :func:`remove_stale_temp_files`
    (called here before each write of the same name) deletes it. Missing
    parent folders are created; the file gets the mode ``open`` would give it.

    Args:
        data (bytes): Content to write.
        filepath (str | Path): Final path.
    """
    filepath = osp.abspath(os.fspath(filepath))
    folder, name = osp.split(filepath)
    mmengine.mkdir_or_exist(folder)
    remove_stale_temp_files(folder, name)
    fd, temp = tempfile.mkstemp(
        prefix=f'.{name}.{os.getpid()}.', suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            if hasattr(os, 'fchmod'):
                os.fchmod(f.fileno(), FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, filepath)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


@register_backend('atomic_local', force=True)
class AtomicLocalBackend(LocalBackend):
    """Local storage backend whose writes are atomic.

    Behaves like mmengine's ``LocalBackend`` except that :meth:`put` and
    :meth:`put_text` never leave a partly written file under the final name:
    see :func:`atomic_write`. Selected with ``backend_args=dict(
    backend='atomic_local')``, e.g. in ``default_hooks.checkpoint``, which
    passes it to ``runner.save_checkpoint`` for the regular and the best
    checkpoints. Reads, removal and listing are ``LocalBackend``'s.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str | Path): Path to write data.
        """
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str | Path): Path to write data.
            encoding (str): Encoding of the text. Defaults to 'utf-8'.
        """
        atomic_write(obj.encode(encoding), filepath)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints survive a crash at any moment.

    Differences from mmengine's hook, everything else (arguments, file names,
    ``save_best``, ``max_keep_ckpts``, resuming) is unchanged:

    - Without ``backend_args`` (and ``file_client_args``) a local ``out_dir``
      is written through :class:`AtomicLocalBackend`, so ``iter_N.pth`` and
      the best checkpoint appear only once complete.
    - The ``last_checkpoint`` pointer in ``work_dir`` is replaced atomically
      (:func:`atomic_write`) and only after the checkpoint it names is in
      place, so it always names a complete checkpoint.
    - With ``max_keep_ckpts`` the oldest checkpoint is deleted after the new
      one and the pointer are written, not before: a crash during a save falls
      back to the previous checkpoint, which still exists. The checkpoint lists
      the one still to delete (``keep_ckpt_ids`` has one entry more), so a run
      resumed after a crash between the save and the deletion deletes it
      (``CheckpointHook.before_train`` trims the list).
    - Before training, temporary files that killed runs left in ``out_dir``
      and ``work_dir`` are deleted (see :func:`remove_stale_temp_files`).

    Resuming is mmengine's: ``--resume`` reads ``last_checkpoint``. Left as
    in mmengine: ``save_best`` deletes the previous best checkpoint before
    writing the new one (resuming never reads it), and ``published_keys``
    copies are written without ``backend_args``, so not atomically.

    Args:
        backend_args (dict, optional): Arguments of the file backend of
            ``out_dir``. Defaults to None: ``dict(backend='atomic_local')``
            for a local ``out_dir``, the backend of its prefix otherwise.
        **kwargs: The other arguments of mmengine's ``CheckpointHook``
            (``interval``, ``by_epoch``, ``max_keep_ckpts``, ``save_best``...).
    """

    def before_train(self, runner) -> None:
        """Pick the backend, trim old checkpoints, delete stale temp files.

        Args:
            runner (Runner): The runner of the training process.
        """
        out_dir = self.out_dir if self.out_dir is not None else runner.work_dir
        if (self.backend_args is None and self.file_client_args is None
                and isinstance(get_file_backend(out_dir), LocalBackend)):
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if is_main_process():
            folders = {osp.abspath(runner.work_dir)}
            if isinstance(self.file_backend, LocalBackend):
                folders.add(osp.abspath(self.out_dir))
            for folder in sorted(folders):
                for path in remove_stale_temp_files(folder):
                    runner.logger.info(
                        f'Deleted {path}, left by an interrupted save.')

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        """Save ``iter/epoch_<step>``, then the pointer, then prune.

        Args:
            runner (Runner): The runner of the training process.
            step (int): Epoch or iteration number in the file name.
            meta (dict): Meta information saved in the checkpoint.
        """
        evicted: List[int] = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            kept = list(self.keep_ckpt_ids) + [step]
            evicted = kept[:-self.max_keep_ckpts]
            # saved in the checkpoint: a resume deletes what a crash left
            runner.message_hub.update_info('keep_ckpt_ids', kept)
            self.keep_ckpt_ids.append(step)  # a full deque drops the oldest

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if evicted:
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        # Model parallel-like training pulls sharded states from all ranks
        # above; only the main process writes the pointer and deletes.
        if not is_main_process():
            return

        atomic_write(
            str(self.last_ckpt).encode(),
            osp.join(runner.work_dir, 'last_checkpoint'))
        for old in evicted:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)
