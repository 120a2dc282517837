# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package, as an mmagic
dataset; also the lookup of the offline data files shared with
``NotoEmojiDataset``."""
import gzip
import os
import os.path as osp
import zlib
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmagic.registry import DATASETS
from .mnist_dataset import InMemoryImageDataset



def fetch_hint(package: str) -> str:
    """How to get the Debian package ``package``: the end of every error."""
    return ('Run `tools/install.sh` (its `tools/fetch_offline_data.sh` '
            'extracts the Debian package into the install cache), or install '
            f'it system-wide with `apt-get install {package}`.')


FASHION_MNIST_RELDIR = osp.join('usr', 'share', 'datasets', 'fashion-mnist')
_FIX = fetch_hint('dataset-fashion-mnist')
_IDX_IMAGES, _IDX_LABELS = 2051, 2049  # magic numbers of the idx files


def offline_data_dir() -> str:
    """Return the cache that ``tools/fetch_offline_data.sh`` extracts into.

    Returns:
        str: ``$MSG_DATA_DIR``, or ``~/.cache/msg_plugin/offline_data``.
    """
    return os.environ.get('MSG_DATA_DIR') or osp.join(
        osp.expanduser('~'), '.cache', 'msg_plugin', 'offline_data')


def locate_offline_data(owner: str, names: Sequence[str],
                        explicit: Optional[str], env_var: str, relpath: str,
                        package: str) -> List[str]:
    """Find the files ``names``, all in one folder.

    The places searched, first match wins: ``explicit`` (an argument), else
    ``$env_var``; when neither is set, the install cache
    (:func:`offline_data_dir` / ``relpath``), then the system-wide install
    (``/`` + ``relpath``). An explicit place is never silently replaced by
    another one. It is a folder, or, when one file is sought, may be the
    file itself (under any name).

    Args:
        owner (str): Name of the dataset, for the error message.
        names (Sequence[str]): Files that must all be in the folder.
        explicit (str, optional): Place given as an argument.
        env_var (str): Environment variable naming the place.
        relpath (str): The folder inside a Debian package's file tree.
        package (str): The Debian package, named in the error.

    Returns:
        list[str]: The paths of ``names`` in the first place holding them.
    """
    if explicit:
        places = [(explicit, 'argument')]
    elif os.environ.get(env_var):
        places = [(os.environ[env_var], f'${env_var}')]
    else:
        places = [(osp.join(offline_data_dir(), relpath), 'install cache'),
                  (osp.join(os.sep, relpath), 'system-wide apt install')]
    for place, _ in places:
        if len(names) == 1 and osp.isfile(place):
            return [place]
        paths = [osp.join(place, name) for name in names]
        if all(osp.isfile(path) for path in paths):
            return paths
    searched = '; '.join(f'{place} ({how})' for place, how in places)
    raise FileNotFoundError(
        f'{owner}: {" + ".join(names)} not found. Searched: {searched}. '
        f'{fetch_hint(package)}')


def _read_idx(path: str,
              magic: int,
              count: Optional[int] = None) -> np.ndarray:
    """Read one gzipped idx file (big-endian int32 header, uint8 data).

    Args:
        path (str): The ``.gz`` file.
        magic (int): Expected magic number: 2051 (images) or 2049 (labels).
        count (int, optional): Expected number of items.

    Returns:
        np.ndarray: ``uint8`` array of shape (N, rows, cols) or (N, ).
    """
    problem = None
    try:
        with gzip.open(path, 'rb') as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(
            f'FashionMNISTDataset: {path} is not a readable gzip file '
            f'({err}); the file is corrupt or truncated. Delete it and '
            f'fetch it again. {_FIX}') from err
    ndim = 3 if magic == _IDX_IMAGES else 1
    header = 4 * (1 + ndim)  # 16 bytes for images, 8 for labels
    if len(raw) < header:
        problem = (f'it has {len(raw)} bytes, less than the {header}-byte '
                   'header')
    else:
        found, *dims = np.frombuffer(raw[:header], '>i4').tolist()
        expected = int(np.prod(dims)) if min(dims) > 0 else -1
        if found != magic:
            problem = f'its magic number is {found}, not {magic}'
        elif expected < 0:
            problem = f'its header gives the shape {tuple(dims)}'
        elif len(raw) - header != expected:
            problem = (f'its header announces {dims[0]} items of shape '
                       f'{tuple(dims[1:])} ({expected} bytes), but '
                       f'{len(raw) - header} bytes follow')
        elif count is not None and dims[0] != count:
            problem = f'it holds {dims[0]} labels for {count} images'
    if problem:
        raise ValueError(
            f'FashionMNISTDataset: {path} is not a valid idx file: {problem}. '
            f'Delete it and fetch it again. {_FIX}')
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


@DATASETS.register_module()
class FashionMNISTDataset(InMemoryImageDataset):
    """Fashion-MNIST (Zalando), read from its original idx files offline.

    70,000 28x28 grey images of clothing in 10 balanced classes: 60,000 in
    the ``'train'`` split and 10,000 in ``'test'`` (6,000 / 1,000 per class).
    Debian's ``dataset-fashion-mnist`` package (licence: Expat/MIT,
    copyright 2017 Zalando SE) ships the four upstream files
    ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``; they are read with
    gzip and numpy (about a second for the train split) and validated: magic
    numbers 2051/2049, item counts and sizes. Nothing is cached.

    The files are looked for in, the first match wins: ``data_root``, else
    ``$MSG_FASHION_MNIST``; when neither is set, the install cache
    (``$MSG_DATA_DIR``, default ``~/.cache/msg_plugin/offline_data``, plus
    ``usr/share/datasets/fashion-mnist``, filled by ``tools/install.sh``),
    then ``/usr/share/datasets/fashion-mnist`` (``apt-get install
    dataset-fashion-mnist``). The original MNIST idx files work as well.

    Sizes and records are those of :class:`EmbeddedMNISTDataset`: the 28x28
    images are centred by zero padding for ``img_size >= 28`` (the default
    32 gives MSG-GAN four scales), shrunk by area interpolation below;
    ``gt`` is ``np.uint8`` of shape (img_size, img_size, 1), ``gt_label``
    the class (0 T-shirt/top ... 9 Ankle boot, see ``metainfo['classes']``)
    and ``gt_path`` ``'<file>#<index>'``.

    Args:
        split (str): ``'train'`` (60,000 images) or ``'test'`` (10,000).
            Defaults to ``'train'``.
        data_root (str, optional): Folder of the four idx files. Defaults to
            None (search as described above).
        img_size (int): Side of the square output images, a power of two
            >= 4. Defaults to 32.
        interleave_classes (bool): Order the images by class 0, 1, ..., 9,
            0, 1, ... instead of the file's order, so that the first N items
            are exactly balanced over the classes, as metrics reading the
            first N real images need. Defaults to False.
        pipeline (list[dict | callable]): Processing pipeline, typically
            ``[dict(type='PackInputs')]``. Defaults to [].
        test_mode (bool): ``test_mode=True`` means in test phase.
            Defaults to False.
        metainfo (dict, optional): Meta information merged into
            :attr:`METAINFO`. Defaults to None.
        indices (int | Sequence[int], optional): Use only part of the data:
            the first ``indices`` items if an int, else those indices.
            Defaults to None (the whole split).
        serialize_data (bool): Whether to hold the data list serialized, to
            share it between dataloader workers. Defaults to True.
        lazy_init (bool): Whether to defer decoding until the data is first
            needed. Defaults to False.
        max_refetch (int): How many times to refetch another sample when the
            pipeline returns None. Defaults to 1000.
    """

    METAINFO = dict(
        dataset_type='fashion_mnist',
        task_name='generation',
        classes=('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'))
    SIZE_HINT = ('Use img_size=32 (the 28x28 images padded by 2 px), or 16, '
                 '8, 4 (downscaled), or 64+.')
    FILE_PREFIX = dict(train='train', test='t10k')

    def __init__(self,
                 split: str = 'train',
                 data_root: Optional[str] = None,
                 img_size: int = 32,
                 interleave_classes: bool = False,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if split not in self.FILE_PREFIX:
            raise ValueError('FashionMNISTDataset: split must be '
                             f"'train' or 'test', got {split!r}")
        self.check_img_size(img_size)  # before looking for the files
        self.split = split
        self.interleave_classes = interleave_classes
        prefix = self.FILE_PREFIX[split]
        images, self.labels_file = locate_offline_data(
            'FashionMNISTDataset', (f'{prefix}-images-idx3-ubyte.gz',
                                    f'{prefix}-labels-idx1-ubyte.gz'),
            data_root, 'MSG_FASHION_MNIST', FASHION_MNIST_RELDIR,
            'dataset-fashion-mnist')
        super().__init__(
            ann_file=osp.basename(images),
            data_root=osp.dirname(images),
            img_size=img_size,
            sample_order='interleaved' if interleave_classes else 'file',
            pipeline=pipeline,
            test_mode=test_mode,
            metainfo=metainfo,
            indices=indices,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def own_metainfo(self) -> dict:
        """Add the split: it keys mmagic's cache of real statistics, which
        ignores ``ann_file``.

        Returns:
            dict: ``img_size``, ``sample_order`` and ``split``.
        """
        return dict(super().own_metainfo(), split=self.split)

    def load_arrays(self) -> Tuple[np.ndarray, np.ndarray, List[str]]:
        """Read and validate the split's images and labels files.

        Returns:
            tuple: The (N, 28, 28) images, their N labels and their
            ``'<images file>#<index>'`` paths.
        """
        images = _read_idx(self.ann_file, _IDX_IMAGES)
        labels = _read_idx(self.labels_file, _IDX_LABELS, count=len(images))
        if labels.max() >= len(self.METAINFO['classes']):
            raise ValueError(
                f'FashionMNISTDataset: {self.labels_file} holds the label '
                f'{labels.max()}, but the classes are 0..9. {_FIX}')
        source = osp.basename(self.ann_file)
        return images, labels.astype(np.int64), [
            f'{source}#{i}' for i in range(len(images))
        ]
