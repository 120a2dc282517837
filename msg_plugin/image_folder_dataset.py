# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""A folder of the user's images: clear errors for bad folders, corrupt files
skipped during training."""
import logging
import os
import os.path as osp
import warnings
from collections import Counter
from typing import Any, List, Optional

import cv2
import numpy as np
from mmengine.fileio import LocalBackend
from mmengine.logging import print_log
from PIL import Image

from mmagic.datasets import BasicImageDataset
from mmagic.registry import DATASETS

FIX_HINT = ('Point data_root (with data_prefix=dict(gt=\'\')) at a folder '
            'of .png/.jpg images.')
SIZE_HINT = ('make them one size with tools/dataset_converters/'
             'images_to_square.py (square, the model\'s resolution), or add a '
             'Resize transform to the pipeline and set check_sizes=False')


@DATASETS.register_module()
class ImageFolderDataset(BasicImageDataset):
    """mmagic's ``BasicImageDataset`` that fails clearly and skips bad files.

    - A missing folder, or one without images, is one clear error naming the
      folder and the fix (``BasicImageDataset`` reports the bare
      ``FileNotFoundError`` of ``os.scandir``, or ``ValueError: need at least
      one array to concatenate``, or with ``serialize_data=False`` nothing: the
      dataset is silently empty and training fails later in the sampler).
    - With ``check_sizes`` (the default) the image headers are read when the
      dataset is built (Pillow reads only the header: fast) and images of
      mixed sizes are one error listing a few of the odd ones. To train on
      such a folder anyway, resize in the pipeline (e.g.
      ``dict(type='Resize', keys=['gt'], scale=(64, 64), keep_ratio=False)``
      after loading) and set ``check_sizes=False``; or convert the folder once
      with ``tools/dataset_converters/images_to_square.py``.
    - A file that cannot be decoded (corrupt, truncated, not an image) is
      logged with its path and skipped: ``prepare_data`` returns None and
      ``BaseDataset.__getitem__`` takes another random image (at most
      ``max_refetch`` times in a row); in ``test_mode`` the next readable
      image stands in for it. Errors of the pipeline itself (the file decodes
      fine) are raised as usual. When no file of the folder can be read, that
      is one error naming the folder.

    Only the default of ``data_prefix`` changes: ``dict(gt='')``, the key the
    GAN pipelines load (``LoadImageFromFile(key='gt')``).

    Args:
        check_sizes (bool): Require every image to have the same size (read
            from the headers at build time; local files only). Defaults to
            True.
        **kwargs: The arguments of
            :class:`mmagic.datasets.BasicImageDataset`, e.g. ``data_root``,
            ``data_prefix``, ``pipeline``, ``recursive``, ``img_suffix``,
            ``max_refetch``.
    """

    def __init__(self, check_sizes: bool = True, **kwargs) -> None:
        kwargs.setdefault('data_prefix', dict(gt=''))
        self.check_sizes = check_sizes
        self._unreadable = set()
        super().__init__(**kwargs)

    @property
    def folder(self) -> str:
        """The image folder (or the annotation file) of this dataset."""
        if self.use_ann_file:
            return self.ann_file
        return self.data_prefix[self.search_key]

    def load_data_list(self) -> List[dict]:
        """Load the data list, raising if the folder is missing or has no
        image, or, with ``check_sizes``, images of different sizes.

        Returns:
            list[dict]: A list of annotation.
        """
        folder = self.data_prefix[self.search_key]
        local = isinstance(self.file_backend, LocalBackend)
        if not self.use_ann_file and local and not osp.isdir(folder):
            raise FileNotFoundError(
                f'ImageFolderDataset: the image folder {folder!r} does not '
                f'exist (data_root={self.data_root!r}). {FIX_HINT}')
        data_list = super().load_data_list()
        if not data_list:
            if self.use_ann_file:
                where = f'the annotation file {self.ann_file!r} lists none'
            else:
                where = f'the folder {folder!r} holds none'
                if local and not self.recursive and any(
                        entry.is_dir() for entry in os.scandir(folder)):
                    where += (' at its top level (it has subfolders: set '
                              'recursive=True to search them)')
            suffix = self.img_suffix
            suffix = ', '.join(suffix) if isinstance(suffix,
                                                     (tuple, list)) else suffix
            raise ValueError(
                f'ImageFolderDataset: no image file with a suffix in ({suffix})'
                f': {where}. {FIX_HINT}')
        if self.check_sizes and local:
            self._check_sizes(
                [info[f'{self.search_key}_path'] for info in data_list])
        return data_list

    def _check_sizes(self, paths: List[str]) -> None:
        """Raise when the images are not all one size (headers only).

        Files whose header cannot be read are left to the loading, which
        skips them; when no file can be read at all, that is an error now.

        Args:
            paths (list[str]): The image files.
        """
        sizes, unreadable = {}, []
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # e.g. DecompressionBombWarning
            for path in paths:
                try:
                    with Image.open(path) as img:
                        sizes[path] = img.size
                except Exception:  # noqa: BLE001  any unreadable header
                    unreadable.append(path)
        if not sizes:
            if any(_decodes(p) for p in unreadable[:3]):
                return  # a format Pillow cannot read: left to the loading
            raise ValueError(
                f'ImageFolderDataset: none of the {len(paths)} image files in '
                f'{self.folder!r} can be read (e.g. {unreadable[0]!r}): they '
                f'are corrupt or not images. {FIX_HINT}')
        unreadable = [p for p in unreadable if not _decodes(p)]
        if unreadable:
            print_log(
                f'ImageFolderDataset: {len(unreadable)} of {len(paths)} files '
                f'in {self.folder!r} cannot be read and will be skipped, e.g. '
                f'{unreadable[0]!r}.',
                logger='current',
                level=logging.WARNING)
        counts = Counter(sizes.values())
        if len(counts) < 2:
            return
        (common, n_common), = counts.most_common(1)
        odd = [(p, s) for p, s in sizes.items() if s != common]
        examples = ', '.join(f'{_relative(p, self.folder)} ({w}x{h})'
                             for p, (w, h) in odd[:3])
        raise ValueError(
            f'ImageFolderDataset: the images in {self.folder!r} are not all '
            f'one size: {n_common} are {common[0]}x{common[1]} (width x '
            f'height) but {len(odd)} are not, e.g. {examples}; {SIZE_HINT}.')

    def prepare_data(self, idx: int) -> Any:
        """The pipeline's output for one image; None for an unreadable file.

        Args:
            idx (int): Index of the image.

        Returns:
            Any: The pipeline's output, or None when the file cannot be
            decoded (it is logged once and ``__getitem__`` takes another).
        """
        data_info = self.get_data_info(idx)
        path = data_info.get(f'{self.search_key}_path')
        if path in self._unreadable:
            return None  # known bad: not decoded (nor logged) again
        try:
            return self.pipeline(data_info)
        except Exception as err:
            if path is None or _decodes(path, self.file_backend):
                raise  # the pipeline failed, not the file
            self._skip(path, err)
            return None

    def _skip(self, path: str, err: Exception) -> None:
        """Log an unreadable file once; raise when no file is left."""
        if path not in self._unreadable:
            self._unreadable.add(path)
            reason = ' '.join(str(err).split())[:200]
            print_log(
                f'ImageFolderDataset: skipped the unreadable image {path!r} '
                f'({type(err).__name__}: {reason}); training goes on with the '
                'other images (replace or delete the file).',
                logger='current',
                level=logging.WARNING)
        if len(self._unreadable) >= len(self):
            raise ValueError(self._none_readable(path))

    def _none_readable(self, example: Optional[str]) -> str:
        return (f'ImageFolderDataset: no image in {self.folder!r} can be read '
                f'({len(self._unreadable)} unreadable files, e.g. {example!r}): '
                f'they are corrupt or not images. {FIX_HINT}')

    def __getitem__(self, idx: int) -> dict:
        """``BaseDataset.__getitem__``, skipping unreadable files in both
        modes, and with an error naming the folder when none can be read.

        Args:
            idx (int): Index of the image.

        Returns:
            dict: The pipeline's output.
        """
        if self.test_mode:
            if not self._fully_initialized:
                self.full_init()
            for step in range(len(self)):
                i = (idx + step) % len(self)
                data = self.prepare_data(i)
                if data is not None:
                    return data
                path = self.get_data_info(i).get(f'{self.search_key}_path')
                if path not in self._unreadable:
                    raise ValueError(
                        f'ImageFolderDataset: the test pipeline returned None '
                        f'for {path!r}: a test pipeline must not drop images.')
            raise ValueError(self._none_readable(None))
        try:
            return super().__getitem__(idx)
        except Exception as err:
            if not str(err).startswith('Cannot find valid image'):
                raise
            example = next(iter(self._unreadable), None)
            raise ValueError(
                f'ImageFolderDataset: {self.max_refetch + 1} images in a row '
                f'from {self.folder!r} could not be loaded '
                f'({len(self._unreadable)} unreadable files seen, e.g. '
                f'{example!r}): check the folder for corrupt files and the '
                'pipeline for transforms that drop images.') from None


def _relative(path: str, folder: str) -> str:
    """``path`` relative to ``folder`` when inside it, for short messages."""
    rel = osp.relpath(path, folder)
    return path if rel.startswith('..') else rel


def _decodes(path: str, backend=None) -> bool:
    """Whether OpenCV (mmagic's default image decoder) can decode a file.

    Args:
        path (str): The image file.
        backend (BaseStorageBackend, optional): Reads the bytes; a local
            read when None.

    Returns:
        bool: False when the file is missing, unreadable or no image.
    """
    try:
        if backend is None:
            with open(path, 'rb') as f:
                data = f.read()
        else:
            data = backend.get(path)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except Exception:  # noqa: BLE001  missing, unreadable, undecodable
        return False
    return img is not None
