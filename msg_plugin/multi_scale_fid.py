# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Per-scale FID: each generated resolution against the real pyramid."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmagic.registry import METRICS
from mmengine.dist import is_main_process
from torch import Tensor
from torch.utils.data.dataloader import DataLoader

from .pyramid import image_pyramid
from .offline_fid import OfflineFID, _unwrap


@METRICS.register_module()
class MultiScaleFID(OfflineFID):
    """FID at every generated scale against the real pyramid (``FID-<res>``).

    For each resolution ``r`` the generated images are read from the model
    output key ``fake_img_<r>`` (``fake_img`` serves the highest resolution
    when that key is absent) and compared with the real images 2x2-average-
    pooled to ``r`` (:func:`msg_plugin.pyramid.image_pyramid`, as in
    training). ``MSGGAN.forward`` writes those keys when sampled with
    ``sample_kwargs=dict(return_scales=True)``, which this metric always
    passes; it has its own sampler group (``SAMPLER_MODE``), so it may sit
    next to other metrics in an evaluator. Real statistics are cached per
    resolution. Result keys: ``FID-<r>/fid``, ``FID-<r>/mean`` and
    ``FID-<r>/cov`` for each ``r`` (``<prefix>/FID-<r>/fid`` with a prefix).

    Args:
        fake_nums (int): Number of generated images.
        real_nums (int): Number of real images; -1 for all. Defaults to -1.
        resolutions (Sequence[int], optional): Scales to measure. Defaults to
            None: every scale of ``model.generator.resolutions``.
        inception_path (str, optional): See :class:`OfflineFID`.
        inception_pkl (str, optional): Template of the real-statistics files
            with ``{res}``, e.g. ``'work_dirs/stats/mnist-{res}.pkl'``.
            Defaults to None (cache files under ``STATS_DIR``).
        real_key (str, optional): Defaults to 'gt_img'.
        need_cond_input (bool): Defaults to False.
        sample_model (str): Defaults to 'orig'.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to None.
        sample_kwargs (dict, optional): Extra sampling arguments;
            ``return_scales=True`` is always added. Defaults to None.
    """
    name = 'MultiScaleFID'
    SAMPLER_MODE = 'MultiScaleGenerative'

    def __init__(self,
                 fake_nums: int,
                 real_nums: int = -1,
                 resolutions: Optional[Sequence[int]] = None,
                 inception_path: Optional[str] = None,
                 inception_pkl: Optional[str] = None,
                 real_key: Optional[str] = 'gt_img',
                 need_cond_input: bool = False,
                 sample_model: str = 'orig',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sample_kwargs: Optional[dict] = None) -> None:
        if inception_pkl is not None and '{res}' not in inception_pkl:
            raise ValueError(
                'MultiScaleFID writes one statistics file per resolution: '
                f'inception_pkl must contain "{{res}}"; got {inception_pkl!r}.'
                ' Use e.g. "work_dirs/stats/real-{res}.pkl".')
        super().__init__(fake_nums, real_nums, 'StyleGAN', inception_path,
                         inception_pkl, None, real_key, need_cond_input,
                         sample_model, collect_device, prefix,
                         dict(sample_kwargs or {}, return_scales=True))
        self.resolutions = (None if resolutions is None else sorted(
            int(r) for r in resolutions))
        self.real_stats: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        self._stats_resolution: Optional[int] = None

    @property
    def inception_args(self) -> dict:
        """Feature-extractor identity plus the resolution being cached."""
        return dict(super().inception_args, resolution=self._stats_resolution)

    def real_stats_path(self, dataloader: DataLoader) -> str:
        """Statistics file of the resolution being prepared.

        Args:
            dataloader (DataLoader): The real images.

        Returns:
            str: The file for the current resolution.
        """
        if self.inception_pkl is not None:
            return self.inception_pkl.format(res=self._stats_resolution)
        return super().real_stats_path(dataloader)

    def prepare(self, module: nn.Module, dataloader: DataLoader) -> None:
        """Load or compute the real statistics at every resolution.

        Args:
            module (nn.Module): The model; its generator's ``resolutions``
                are used when ``resolutions`` is not given.
            dataloader (DataLoader): The real images (highest resolution).
        """
        if self.resolutions is None:
            generator = getattr(_unwrap(module), 'generator', None)
            found = getattr(generator, 'resolutions', None)
            if not found:
                raise ValueError(
                    'MultiScaleFID could not read the scales from '
                    'model.generator.resolutions (not an MSG generator?); '
                    'set resolutions=(4, 8, ...) in the metric config.')
            self.resolutions = sorted(int(r) for r in found)
        self.stats_files, self.real_stats = [], {}
        try:
            for res in self.resolutions:
                self._stats_resolution = res
                state = self._real_inception_state(module, dataloader)
                if is_main_process():
                    self.real_stats[res] = (state['real_mean'],
                                            state['real_cov'])
        finally:
            self._stats_resolution = None

    def forward_inception(self, image: Tensor) -> Tensor:
        """Features; real images are pooled to the resolution being prepared.

        Args:
            image (Tensor): ``(N, C, H, W)`` BGR or grey in [0, 255].

        Returns:
            Tensor: ``(N, D)`` features.
        """
        if self._stats_resolution is not None:
            image = image_pyramid(image.float(), [self._stats_resolution])[0]
        return super().forward_inception(image)

    def _fake_at(self, pred: dict, res: int) -> Tensor:
        """The generated image at ``res`` from one model output."""
        sample = pred.get(self.sample_model, pred)
        key = f'fake_img_{res}'
        if key in sample:
            return sample[key]
        fake = sample.get('fake_img')
        if fake is not None and fake.shape[-1] == res:
            return fake
        raise KeyError(
            f'MultiScaleFID needs the generated {res}x{res} image as {key!r} '
            f'in the model output, which has {sorted(sample)}. MSGGAN.forward '
            'writes fake_img_<res> when sampled with sample_kwargs='
            'dict(return_scales=True); otherwise set resolutions to the '
            'scales the model outputs.')

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Extract the features of every scale of a generated batch.

        Each image's features of all scales are concatenated into one row,
        so mmagic's result gathering across ranks works unchanged.

        Args:
            data_batch (dict): Unused.
            data_samples (Sequence[dict]): Model outputs.
        """
        if len(self.fake_results) >= self.fake_nums_per_device:
            return
        if self.resolutions is None:
            raise RuntimeError('MultiScaleFID.prepare must run before process '
                               '(the evaluator calls it).')
        feats = [
            self.forward_inception(
                torch.stack([self._fake_at(pred, res)
                             for pred in data_samples]))
            for res in self.resolutions
        ]
        self.fake_results += list(torch.split(torch.cat(feats, dim=1), 1))

    def compute_metrics(self, fake_results: list) -> Dict[str, float]:
        """FID of every scale.

        Args:
            fake_results (list): Rows of concatenated per-scale features.

        Returns:
            dict[str, float]: ``FID-<res>/fid``, ``/mean`` and ``/cov``.
        """
        feats = torch.cat(fake_results, dim=0).cpu().numpy()
        results = {}
        for res, feat in zip(self.resolutions,
                             np.split(feats, len(self.resolutions), axis=1)):
            real_mean, real_cov = self.real_stats[res]
            fid, mean, cov = self._calc_fid(
                np.mean(feat, 0), np.cov(feat, rowvar=False), real_mean,
                real_cov)
            results.update({
                f'FID-{res}/fid': fid,
                f'FID-{res}/mean': mean,
                f'FID-{res}/cov': cov
            })
        return results
