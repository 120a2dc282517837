# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Turn a folder of images into square, power-of-two-sized PNGs.

Usage:
    python tools/dataset_converters/images_to_square.py SRC DST --size 256
        [--mode crop|pad] [--pad-value V] [--grey] [--workers N]

Every ``.jpg/.jpeg/.png/.bmp/.webp`` file under SRC (any case, any depth of
sub-folders) becomes ``DST/<same sub-folder>/<same stem>.png``, SIZE x SIZE:
``crop`` takes the centred square on the short side, ``pad`` centres the image
on a square of the long side filled with ``--pad-value``. Shrinking uses area
interpolation, enlarging bicubic. Outputs are RGB (grey inputs are repeated
over three channels), or single-channel grey with ``--grey``. Transparent
images are composited onto white; 16-bit images are scaled to 8 bits; the
EXIF orientation is applied.

Each input is decoded in full with Pillow first (``LOAD_TRUNCATED_IMAGES``
off), so truncated or otherwise damaged files are reported on stdout and in
``DST/bad_files.txt`` and never written. Outputs appear only once complete
(temporary file + rename) and existing ones are skipped, so rerunning after
an interruption resumes the conversion.
"""
import argparse
import io
import multiprocessing
import os
import os.path as osp
import struct
from functools import partial
from typing import List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps

from converter_io import (BadFileLog, ConverterError, progress,
                          remove_stale_temps, summary_line, write_png)

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must fail


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a folder of images (any depth of sub-folders) '
        'into square PNGs of a power-of-two size, as the ImageFolderDataset '
        'configs read. Transparency is composited onto white, 16-bit images '
        'are scaled to 8 bits. Damaged files are listed in '
        'DST/bad_files.txt; a rerun skips the outputs that exist.')
    parser.add_argument('src', help='folder of .jpg/.jpeg/.png/.bmp/.webp')
    parser.add_argument('dst', help='output folder (created if missing)')
    parser.add_argument(
        '--size',
        type=int,
        required=True,
        help='output side in pixels, a power of two >= 8 (e.g. 256, 1024)')
    parser.add_argument(
        '--mode',
        choices=['crop', 'pad'],
        default='crop',
        help='crop: centre crop to the short side (default); pad: pad to the '
        'long side with --pad-value, keeping the whole image')
    parser.add_argument(
        '--pad-value',
        type=int,
        default=0,
        metavar='V',
        help='grey level 0-255 of the padding in --mode pad (default 0, '
        'black)')
    parser.add_argument(
        '--grey',
        action='store_true',
        help='write single-channel grey PNGs (default: RGB)')
    parser.add_argument(
        '--workers',
        type=int,
        default=min(8, os.cpu_count() or 1),
        metavar='N',
        help='processes decoding and resizing (default: the CPU count, at '
        'most 8; 1 runs in this process)')
    args = parser.parse_args(argv)
    if args.size < 8 or args.size & (args.size - 1):
        parser.error(f'--size must be a power of two >= 8 (8, 16, ..., 1024), '
                     f'got {args.size}')
    if not 0 <= args.pad_value <= 255:
        parser.error(f'--pad-value must be in 0..255, got {args.pad_value}')
    if args.workers < 1:
        parser.error(f'--workers must be >= 1, got {args.workers}')
    return args


def find_images(src: str, dst: str) -> List[str]:
    """List the images under ``src``, sorted, leaving out ``dst`` when it lies
    inside ``src``.

    Args:
        src (str): The source folder.
        dst (str): The destination folder.

    Returns:
        list[str]: The paths relative to ``src``.
    """
    dst_real = osp.realpath(dst)
    found = []
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs
                         if osp.realpath(osp.join(folder, d)) != dst_real)
        for name in sorted(files):
            if name.lower().endswith(IMG_EXTENSIONS):
                found.append(osp.relpath(osp.join(folder, name), src))
    return found


def png_header(path: str) -> Tuple[int, int, int, int]:
    """Read width, height, bit depth and colour type from a PNG's IHDR.

    Args:
        path (str): The PNG file.

    Returns:
        tuple[int]: ``(width, height, bit_depth, colour_type)``; colour type 0
        is grey, 2 RGB. All -1 when the file is not a PNG.
    """
    with open(path, 'rb') as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b'\x89PNG\r\n\x1a\n' \
            or head[12:16] != b'IHDR':
        return -1, -1, -1, -1
    return struct.unpack('>IIBB', head[16:26])


def decode(path: str) -> np.ndarray:
    """Fully decode an image file into an 8-bit grey or RGB array.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: uint8, (H, W) for grey inputs, (H, W, 3) RGB otherwise.

    Raises:
        ValueError: If the file is empty, damaged, truncated or no image.
    """
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        raise ValueError('empty file (0 bytes)')
    try:
        Image.open(io.BytesIO(data)).verify()  # checksums, structure
        img = Image.open(io.BytesIO(data))
        img.load()  # the whole image: raises on truncation
        img = ImageOps.exif_transpose(img)
    except Image.UnidentifiedImageError:
        raise ValueError('not an image file (unknown or damaged header)')
    except Exception as err:  # Pillow raises many types for bad data
        raise ValueError(f'cannot decode: {type(err).__name__}: {err}')
    if img.mode.startswith('I'):  # 16-bit (I;16*) or 32-bit integer grey
        arr = np.asarray(img).astype(np.float64) / 257.0  # 65535 -> 255
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if img.mode in ('RGBA', 'LA', 'PA', 'RGBa', 'La') or (
            'transparency' in img.info):
        rgba = img.convert('RGBA')
        white = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert(
            'L' if img.mode in ('LA', 'La') else 'RGB')
    elif img.mode not in ('L', 'RGB'):
        img = img.convert('L' if img.mode == '1' else 'RGB')
    return np.asarray(img)


def make_square(img: np.ndarray, size: int, mode: str, pad_value: int,
                grey: bool) -> np.ndarray:
    """Crop or pad an image to a square and resize it to ``size``.

    Args:
        img (np.ndarray): uint8 (H, W) grey or (H, W, 3) RGB.
        size (int): The output side.
        mode (str): ``'crop'`` (centre crop to the short side) or ``'pad'``
            (pad to the long side).
        pad_value (int): The padding's grey level.
        grey (bool): Return (size, size) grey instead of (size, size, 3) RGB.

    Returns:
        np.ndarray: The square uint8 image.
    """
    if grey and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    elif not grey and img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    h, w = img.shape[:2]
    if mode == 'crop':
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        img = img[top:top + side, left:left + side]
    else:
        side = max(h, w)
        top, left = (side - h) // 2, (side - w) // 2
        img = cv2.copyMakeBorder(img, top, side - h - top, left,
                                 side - w - left, cv2.BORDER_CONSTANT,
                                 value=(pad_value, ) * 3)
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        img = cv2.resize(img, (size, size), interpolation=interp)
    return img


def convert_one(job: Tuple[str, str], size: int, mode: str, pad_value: int,
                grey: bool) -> Tuple[str, Optional[str]]:
    """Convert one image (run in the worker processes).

    Args:
        job (tuple[str, str]): The input and the output path.
        size, mode, pad_value, grey: See :func:`make_square`.

    Returns:
        tuple[str, str | None]: The input path and, when it was bad, why.
    """
    src, out = job
    try:
        img = decode(src)
    except (OSError, ValueError) as err:
        return src, str(err)
    write_png(out, make_square(img, size, mode, pad_value, grey))
    return src, None


def plan(args: argparse.Namespace,
         bad: BadFileLog) -> Tuple[List[Tuple[str, str]], int]:
    """Pair every source image with its output and drop those that exist.

    Args:
        args (argparse.Namespace): The parsed arguments.
        bad (BadFileLog): Receives the inputs whose output name another input
            already takes (``a.jpg`` and ``a.png`` in one folder).

    Returns:
        tuple: The ``(input, output)`` jobs to run and how many outputs exist.
    """
    if not osp.isdir(args.src):
        raise ConverterError(f'the source folder {args.src!r} does not exist '
                             'or is not a folder')
    if osp.realpath(args.src) == osp.realpath(args.dst):
        raise ConverterError('DST must differ from SRC (it may lie inside it)')
    images = find_images(args.src, args.dst)
    if not images:
        raise ConverterError(
            f'no image ({"/".join(IMG_EXTENSIONS)}) found under {args.src!r}')
    jobs, owners, skipped, mismatched = [], {}, 0, []
    want = (args.size, args.size, 8, 0 if args.grey else 2)
    for rel in images:
        src = osp.join(args.src, rel)
        out = osp.join(args.dst, osp.splitext(rel)[0] + '.png')
        if out in owners:
            bad.add(src, f'its output {out} is already made from '
                    f'{owners[out]}; rename one of them')
            continue
        owners[out] = src
        if not osp.exists(out):
            jobs.append((src, out))
        elif png_header(out) == want:
            skipped += 1
        else:
            mismatched.append(out)
    if mismatched:
        w, h, depth, colour = png_header(mismatched[0])
        raise ConverterError(
            f'{len(mismatched)} existing outputs in {args.dst!r} differ from '
            f'--size {args.size}{" --grey" if args.grey else ""} (e.g. '
            f'{mismatched[0]}: {w}x{h}, {depth}-bit, PNG colour type '
            f'{colour}); use an empty DST or the earlier settings')
    return jobs, skipped


def main(argv: Optional[List[str]] = None) -> str:
    """Convert the images and print the summary line.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv`` when None.

    Returns:
        str: The summary line.
    """
    args = parse_args(argv)
    bad = BadFileLog(args.dst)
    try:
        jobs, skipped = plan(args, bad)
    except ConverterError as err:
        raise SystemExit(f'images_to_square: error: {err}')
    os.makedirs(args.dst, exist_ok=True)
    stale = remove_stale_temps(args.dst)
    if stale:
        print(f'removed {stale} temporary files of an interrupted run')
    if skipped:
        print(f'skipping {skipped} outputs that already exist')
    work = partial(
        convert_one,
        size=args.size,
        mode=args.mode,
        pad_value=args.pad_value,
        grey=args.grey)
    converted = 0
    workers = min(args.workers, len(jobs))
    if workers > 1:
        ctx = multiprocessing.get_context('spawn')
        pool = ctx.Pool(workers, initializer=cv2.setNumThreads, initargs=(1, ))
        results = pool.imap_unordered(work, jobs, chunksize=4)
    else:
        pool, results = None, map(work, jobs)
    try:
        for src, reason in progress(results, len(jobs), 'images'):
            if reason is None:
                converted += 1
            else:
                bad.add(src, reason)
    finally:
        if pool is not None:
            pool.terminate()  # all results are in, or we are stopping
            pool.join()
    if bad.save():
        print(f'{len(bad)} bad files listed in {bad.path}')
    line = summary_line(converted, skipped, len(bad))
    print(line)
    return line


if __name__ == '__main__':
    main()
