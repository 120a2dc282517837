# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""A folder of the user's images, failing clearly when there is none."""
import os
import os.path as osp
from typing import List

from mmengine.fileio import LocalBackend

from mmagic.datasets import BasicImageDataset
from mmagic.registry import DATASETS

FIX_HINT = ('Point data_root (with data_prefix=dict(gt=\'\')) at a folder '
            'of .png/.jpg images.')


@DATASETS.register_module()
class ImageFolderDataset(BasicImageDataset):
    """mmagic's ``BasicImageDataset`` that refuses to be empty.

    ``BasicImageDataset`` reports a missing folder only as the bare
    ``FileNotFoundError`` of ``os.scandir``, and a folder without images as
    ``ValueError: need at least one array to concatenate`` (from mmengine's
    data serialization), or, with ``serialize_data=False``, not at all: the
    dataset is silently empty and training fails later in the sampler. This
    subclass raises one clear error naming the folder and the fix instead.
    Everything else is ``BasicImageDataset``; only the default of
    ``data_prefix`` becomes ``dict(gt='')``, the key the GAN pipelines load
    (``LoadImageFromFile(key='gt')``).

    Args:
        **kwargs: The arguments of
            :class:`mmagic.datasets.BasicImageDataset`, e.g. ``data_root``,
            ``data_prefix``, ``pipeline``, ``recursive``, ``img_suffix``.
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault('data_prefix', dict(gt=''))
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        """Load the data list, raising if the folder is missing or has no
        image.

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
        return data_list
