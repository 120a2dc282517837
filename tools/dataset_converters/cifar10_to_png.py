# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Turn CIFAR-10's python batches into a folder of 32x32 RGB PNGs.

Usage:
    python tools/dataset_converters/cifar10_to_png.py SRC DST
        [--split train|test|all]

SRC is the ``cifar-10-batches-py`` folder of the official
``cifar-10-python.tar.gz`` (or a folder holding it), or that archive itself,
read in memory without extracting it. Image ``i`` goes to
``DST/<class name>/<index:05d>.png``, where the index is its place in the
60,000 images: ``data_batch_k`` holds 10000 * (k - 1) onwards and
``test_batch`` 50000 onwards, so every split keeps the same names and one DST
can hold them all. Class names come from ``batches.meta`` (the label numbers
when it is missing).

A batch that is missing or damaged is reported (stdout and
``DST/bad_files.txt``) and skipped. Outputs appear only once complete
(temporary file + rename) and existing ones are skipped, so a rerun resumes.
The batches are pickles: they are loaded with an unpickler that accepts only
the numpy array types the official files use, so a foreign pickle cannot run
code.
"""
import argparse
import io
import os
import os.path as osp
import pickle
import re
import tarfile
from typing import Dict, List, Optional, Tuple

import numpy as np

from converter_io import (BadFileLog, ConverterError, progress,
                          remove_stale_temps, summary_line, write_png)

TRAIN = [f'data_batch_{k}' for k in range(1, 6)]
TEST = ['test_batch']
META = 'batches.meta'
BATCH_STRIDE = 10000  # image index of batch k: BATCH_STRIDE * position
ALLOWED_GLOBALS = {
    (module, name)
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray',
                   'numpy.core.numeric', 'numpy._core.numeric', 'numpy')
    for name in ('_reconstruct', '_frombuffer', 'ndarray', 'dtype', 'scalar')
} | {('_codecs', 'encode')}  # how Python 3 writes bytes at protocol 2


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays but imports nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f'refusing to load {module}.{name}: not a CIFAR batch')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert the CIFAR-10 python batches into '
        'DST/<class>/<index>.png (32x32 RGB). A rerun skips the outputs that '
        'exist.')
    parser.add_argument(
        'src',
        help='the cifar-10-batches-py folder (or its parent), or '
        'cifar-10-python.tar.gz')
    parser.add_argument('dst', help='output folder (created if missing)')
    parser.add_argument(
        '--split',
        choices=['train', 'test', 'all'],
        default='train',
        help='train: the 50,000 training images (default, as in the paper); '
        'test: the 10,000 test images; all: both')
    return parser.parse_args(argv)


def load_pickle(data: bytes) -> dict:
    """Unpickle a CIFAR file's bytes with :class:`ArrayUnpickler`.

    Args:
        data (bytes): The file's content.

    Returns:
        dict: The unpickled dict (bytes keys).

    Raises:
        ValueError: If the bytes are no pickled dict.
    """
    try:
        obj = ArrayUnpickler(io.BytesIO(data), encoding='bytes').load()
    except Exception as err:  # pickle raises many types for bad data
        raise ValueError(f'not a readable pickle ({type(err).__name__}: '
                         f'{err})')
    if not isinstance(obj, dict):
        raise ValueError(f'holds a {type(obj).__name__}, not a dict')
    return obj


def parse_batch(data: bytes) -> Tuple[np.ndarray, np.ndarray]:
    """Check a batch and return its images and labels.

    Args:
        data (bytes): The batch file's content.

    Returns:
        tuple[np.ndarray]: Images (N, 32, 32, 3) uint8 RGB, labels (N, ).

    Raises:
        ValueError: Saying what is wrong with the batch.
    """
    batch = load_pickle(data)
    missing = [key for key in (b'data', b'labels') if key not in batch]
    if missing:
        raise ValueError(f'no {" or ".join(k.decode() for k in missing)} key')
    images = np.asarray(batch[b'data'])
    labels = np.asarray(batch[b'labels'])
    if images.dtype != np.uint8 or images.ndim != 2 \
            or images.shape[1] != 3 * 32 * 32:
        raise ValueError(f'data is {images.dtype} {images.shape}, expected '
                         'uint8 (N, 3072)')
    if labels.shape != (len(images), ) or labels.dtype.kind not in 'iu':
        raise ValueError(f'{labels.shape} labels of kind {labels.dtype} for '
                         f'{len(images)} images')
    if len(images) > BATCH_STRIDE:
        raise ValueError(f'{len(images)} images, more than {BATCH_STRIDE}')
    # rows are the R, G and B planes of 32x32, one after the other
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_files(src: str, names: List[str]) -> Tuple[Dict[str, bytes], str]:
    """Read the wanted files from the batches folder or the archive.

    Args:
        src (str): A folder or a ``.tar(.gz)`` archive.
        names (list[str]): The file names wanted.

    Returns:
        tuple: The content of each name found (dict[str, bytes]) and where
        they were looked for (the batches folder or the archive).
    """
    if osp.isdir(src):
        inner = osp.join(src, 'cifar-10-batches-py')
        if not any(osp.exists(osp.join(src, n)) for n in names) \
                and osp.isdir(inner):
            src = inner
        found = {}
        for name in names:
            if osp.isfile(osp.join(src, name)):
                with open(osp.join(src, name), 'rb') as f:
                    found[name] = f.read()
        return found, src
    if not osp.isfile(src):
        raise ConverterError(f'{src!r} does not exist')
    found = {}
    try:
        with tarfile.open(src, 'r:*') as tar:
            for member in tar:  # one pass: cheap on a .gz stream
                name = osp.basename(member.name)
                if member.isfile() and name in names and name not in found:
                    found[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ConverterError(f'cannot read the archive {src!r}: {err}')
    return found, src


def class_names(data: Optional[bytes], path: str,
                bad: BadFileLog) -> List[str]:
    """Read the class names of ``batches.meta``, as folder-safe names.

    Args:
        data (bytes | None): The meta file's content, None when missing.
        path (str): Where the meta file is, for the messages.
        bad (BadFileLog): Receives a damaged meta file.

    Returns:
        list[str]: The names, empty when unknown.
    """
    if data is None:
        print(f'{path} not found: class folders are the label numbers')
        return []
    try:
        names = load_pickle(data)[b'label_names']
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        bad.add(path, f'{type(err).__name__}: {err}; class folders are the '
                'label numbers')
        return []
    return [re.sub(r'[^\w.-]+', '_', n).strip('._') or str(i)
            for i, n in enumerate(names)]


def main(argv: Optional[List[str]] = None) -> str:
    """Convert the batches and print the summary line.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv`` when None.

    Returns:
        str: The summary line.
    """
    args = parse_args(argv)
    order = TRAIN + TEST  # the position sets the index offset
    wanted = dict(train=TRAIN, test=TEST, all=order)[args.split]
    bad = BadFileLog(args.dst)
    try:
        files, where = read_files(args.src, wanted + [META])
        if not any(name in files for name in wanted):
            raise ConverterError(
                f'none of {", ".join(wanted)} found in {args.src!r}; give '
                'the cifar-10-batches-py folder or cifar-10-python.tar.gz')
    except ConverterError as err:
        raise SystemExit(f'cifar10_to_png: error: {err}')
    names = class_names(files.get(META), osp.join(where, META), bad)
    batches = []
    for name in wanted:
        if name not in files:
            bad.add(osp.join(where, name), 'missing')
            continue
        try:
            images, labels = parse_batch(files.pop(name))
        except ValueError as err:
            bad.add(osp.join(where, name), f'damaged batch: {err}')
            continue
        batches.append((order.index(name) * BATCH_STRIDE, images, labels))
    os.makedirs(args.dst, exist_ok=True)
    remove_stale_temps(args.dst)
    jobs = [(start + i, img, int(label)) for start, images, labels in batches
            for i, (img, label) in enumerate(zip(images, labels))]
    converted = skipped = 0
    for index, img, label in progress(jobs, len(jobs), 'cifar10'):
        folder = names[label] if 0 <= label < len(names) else str(label)
        out = osp.join(args.dst, folder, f'{index:05d}.png')
        if osp.exists(out):
            skipped += 1
        else:
            write_png(out, img)
            converted += 1
    if bad.save():
        print(f'{len(bad)} bad files listed in {bad.path}')
    line = summary_line(converted, skipped, len(bad))
    print(line)
    return line


if __name__ == '__main__':
    main()
