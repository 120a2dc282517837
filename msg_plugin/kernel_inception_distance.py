# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""KID: the unbiased kernel distance on the offline Inception features."""
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from mmagic.registry import METRICS

from .offline_fid import OfflineFID


def kernel_inception_distance(real_feats: np.ndarray,
                              fake_feats: np.ndarray,
                              subset_size: int = 1000,
                              num_subsets: int = 100,
                              seed: int = 0) -> Tuple[float, float]:
    """Unbiased KID: squared MMD with the kernel ``(x.y / d + 1) ** 3``.

    Averaged over random subsets drawn without replacement, as in
    torch-fidelity, clean-fid and StyleGAN3 (Binkowski et al., 2018).

    Args:
        real_feats (np.ndarray): ``(N_real, d)`` features.
        fake_feats (np.ndarray): ``(N_fake, d)`` features.
        subset_size (int): Samples per subset; capped at the smaller set.
            Defaults to 1000.
        num_subsets (int): Number of subsets. Defaults to 100.
        seed (int): Seed of the subset draws. Defaults to 0.

    Returns:
        tuple[float, float]: Mean and standard deviation over the subsets.
    """
    real = np.asarray(real_feats, dtype=np.float64)
    fake = np.asarray(fake_feats, dtype=np.float64)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError(
            f'KID needs at least 2 real and 2 generated images; got '
            f'{len(real)} real and {len(fake)} generated. Raise fake_nums / '
            'real_nums.')
    dim = real.shape[1]
    rng = np.random.RandomState(seed)
    mmds = []
    for _ in range(num_subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        k_xx = (x @ x.T / dim + 1)**3
        k_yy = (y @ y.T / dim + 1)**3
        k_xy = (x @ y.T / dim + 1)**3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() -
                  np.trace(k_yy)) / (m * (m - 1))
        mmds.append(within - 2 * k_xy.mean())
    return float(np.mean(mmds)), float(np.std(mmds))


@METRICS.register_module()
class OfflineKID(OfflineFID):
    """Kernel Inception Distance (unbiased at small N) on OfflineFID features.

    mmagic 1.2.0 has no KID. The features, the real-image cache and the
    sampling are those of :class:`OfflineFID`; the cache keeps the raw real
    features as well (file prefix ``inception_state-capture_all``). Result
    keys: ``kid`` and ``kid_std`` (raw values; papers often quote x1000), and
    FID's ``fid``, ``mean``, ``cov`` from the same features, so one Inception
    pass over the generated images gives both.

    Args:
        fake_nums (int): Number of generated images.
        real_nums (int): Number of real images; -1 for all. Defaults to -1.
        subset_size (int): Images per subset, capped at the smaller set.
            Defaults to 1000.
        num_subsets (int): Number of subsets. Defaults to 100.
        seed (int): Seed of the subset draws. Defaults to 0.
        inception_path (str, optional): See :class:`OfflineFID`.
        inception_pkl (str, optional): See :class:`OfflineFID`.
        fake_key (str, optional): See :class:`OfflineFID`.
        real_key (str, optional): Defaults to 'gt_img'.
        need_cond_input (bool): Defaults to False.
        sample_model (str): Defaults to 'orig'.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to None.
        sample_kwargs (dict, optional): Defaults to None.
    """
    name = 'KID'
    CAPTURE_ALL = True

    def __init__(self,
                 fake_nums: int,
                 real_nums: int = -1,
                 subset_size: int = 1000,
                 num_subsets: int = 100,
                 seed: int = 0,
                 inception_path: Optional[str] = None,
                 inception_pkl: Optional[str] = None,
                 fake_key: Optional[str] = None,
                 real_key: Optional[str] = 'gt_img',
                 need_cond_input: bool = False,
                 sample_model: str = 'orig',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sample_kwargs: Optional[dict] = None) -> None:
        super().__init__(fake_nums, real_nums, 'StyleGAN', inception_path,
                         inception_pkl, fake_key, real_key, need_cond_input,
                         sample_model, collect_device, prefix, sample_kwargs)
        self.subset_size = subset_size
        self.num_subsets = num_subsets
        self.seed = seed
        self.real_feats: Optional[np.ndarray] = None

    def use_real_state(self, state: dict) -> None:
        """Keep the raw real features too (KID needs them).

        Args:
            state (dict): mmagic's inception state of the real images.
        """
        super().use_real_state(state)
        self.real_feats = np.asarray(state['raw_feature'])

    def compute_metrics(self, fake_results: list) -> Dict[str, float]:
        """KID and FID between the cached real and the generated features.

        Args:
            fake_results (list): Features of the generated images.

        Returns:
            dict[str, float]: ``kid``, ``kid_std`` and FID's ``fid``, ``mean``,
            ``cov`` from the same features.
        """
        fake = torch.cat(fake_results, dim=0).cpu().numpy()
        kid, kid_std = kernel_inception_distance(self.real_feats, fake,
                                                 self.subset_size,
                                                 self.num_subsets, self.seed)
        return dict(super().compute_metrics(fake_results), kid=kid,
                    kid_std=kid_std)
