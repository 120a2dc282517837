# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Output helpers shared by the dataset converters in this folder.

* :func:`write_png` encodes an image and moves it into place only once the
  whole file is on disk (temporary file in the same folder, then
  ``os.replace``), so an interrupted run never leaves a truncated PNG and a
  rerun can skip every output that exists.
* :func:`remove_stale_temps` deletes the temporary files a killed run left.
* :class:`BadFileLog` reports unusable inputs on stdout and in
  ``DST/bad_files.txt``; :func:`summary_line` formats the final counts.
"""
import os
import os.path as osp
import sys
import tempfile
from typing import Iterable, List, Optional, Tuple

import cv2
import numpy as np
from tqdm import tqdm

TMP_SUFFIX = '.convert-tmp'
BAD_FILES = 'bad_files.txt'


class ConverterError(Exception):
    """An error that stops a converter (bad arguments, unusable input)."""


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The temporary file lives in the destination folder (so the rename never
    crosses file systems), starts with a dot and ends with
    :data:`TMP_SUFFIX`; it is removed if writing fails.

    Args:
        path (str): The final file.
        data (bytes): Its whole content.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix=TMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_png(path: str, img: np.ndarray) -> None:
    """Encode an 8-bit grey (H, W) or RGB (H, W, 3) image as PNG and write it
    with :func:`write_atomic`.

    Args:
        path (str): The final ``.png`` file.
        img (np.ndarray): The image, uint8, RGB channel order.
    """
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(img))
    if not ok:
        raise OSError(f'cv2 could not encode {path} as PNG')
    write_atomic(path, buf.tobytes())


def remove_stale_temps(root: str) -> int:
    """Delete the temporary files an interrupted run left under ``root``.

    Args:
        root (str): The destination folder (may not exist yet).

    Returns:
        int: How many files were removed.
    """
    removed = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if name.startswith('.') and name.endswith(TMP_SUFFIX):
                os.remove(osp.join(folder, name))
                removed += 1
    return removed


class BadFileLog:
    """Collect unusable inputs, print each one and save the list.

    Args:
        dst (str): The destination folder, where ``bad_files.txt`` goes.
    """

    def __init__(self, dst: str) -> None:
        self.path = osp.join(dst, BAD_FILES)
        self.entries: List[Tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, path: str, reason: str) -> None:
        """Record a bad input and print it on stdout (above the progress bar).

        Args:
            path (str): The input file.
            reason (str): What is wrong with it.
        """
        self.entries.append((path, reason))
        tqdm.write(f'bad file: {path}: {reason}', file=sys.stdout)

    def save(self) -> Optional[str]:
        """Write ``bad_files.txt`` (one ``path<TAB>reason`` a line), or remove
        the one of an earlier run when nothing was bad this time.

        Returns:
            str | None: The written file, None when there was nothing to list.
        """
        if not self.entries:
            if osp.exists(self.path):
                os.remove(self.path)
            return None
        text = ''.join(f'{path}\t{reason}\n' for path, reason in self.entries)
        write_atomic(self.path, text.encode('utf-8'))
        return self.path


def summary_line(converted: int, skipped_existing: int, bad: int) -> str:
    """Format the counts every converter prints last.

    Args:
        converted (int): Outputs written by this run.
        skipped_existing (int): Outputs that already existed.
        bad (int): Inputs reported as unusable.

    Returns:
        str: ``converted=N skipped_existing=M bad=K``.
    """
    return f'converted={converted} skipped_existing={skipped_existing} bad={bad}'


def progress(items: Iterable, total: int, desc: str) -> tqdm:
    """Wrap ``items`` in the converters' progress bar (on stderr).

    Args:
        items (Iterable): What to iterate over.
        total (int): Its length.
        desc (str): The bar's label.

    Returns:
        tqdm: The wrapped iterable.
    """
    return tqdm(items, total=total, desc=desc, unit='img', dynamic_ncols=True)
