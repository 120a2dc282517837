# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Fail before training when the data or a checkpoint does not fit the model.

Without these checks a data/model mismatch surfaces only at the first iteration
(after the workers, the EMA copy and the sample hooks started), and a checkpoint
of another architecture or resolution is half-loaded: mmengine's non-strict
loading only *warns* about mismatched shapes and trains on with the rest of the
weights random.
"""
import random
import re
from contextlib import contextmanager
from typing import Iterator, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import get_state_dict
from mmagic.registry import HOOKS
from torch import nn

COLOURS = {1: 'grey', 3: 'RGB', 4: 'RGBA'}
RESIZE_HINT = ('tools/dataset_converters/images_to_square.py or a Resize '
               'transform in the train pipeline')


def _shape(value) -> Optional[tuple]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(shape)


def weights_mismatch(model_state: Mapping,
                     weights: Mapping,
                     strict_keys: bool = True) -> Optional[str]:
    """Describe the first way a state dict does not fit a model, if any.

    Shared by the training hook (``--resume``, ``load_from``) and the sampling
    and export paths (:func:`msg_plugin.exported_generator.build_generator`).

    Args:
        model_state (Mapping): The model's ``state_dict()``.
        weights (Mapping): The tensors read from the checkpoint.
        strict_keys (bool): Whether a parameter that only one side has is a
            mismatch too (otherwise only differing shapes are). Defaults to
            True.

    Returns:
        str | None: E.g. ``"blocks.0.1.conv.weight_orig is (8, 9, 3, 3) in the
        checkpoint but (16, 17, 3, 3) in the model"``, with the number of
        further differences; None when everything fits.
    """
    shapes = [(k, _shape(weights[k]), _shape(v))
              for k, v in model_state.items() if k in weights]
    shapes = [s for s in shapes if s[1] != s[2]]
    missing = [k for k in model_state if k not in weights]
    unexpected = [k for k in weights if k not in model_state]
    problems = [
        f'{k} is {ckpt} in the checkpoint but {model} in the model'
        for k, ckpt, model in shapes
    ]
    if strict_keys:
        problems += [
            f'the model has {k} {_shape(model_state[k])} but the checkpoint '
            'has not' for k in missing
        ]
        problems += [
            f'the checkpoint has {k} {_shape(weights[k])} but the model has '
            'not' for k in unexpected
        ]
    if not problems:
        return None
    more = len(problems) - 1
    return problems[0] + (f' (and {more} more differences)' if more else '')


def check_real_images(shape: Sequence[int], resolution: int,
                      channels: int) -> None:
    """Raise one clear error when real images do not fit the model.

    Args:
        shape (Sequence[int]): One preprocessed image, ``(C, H, W)``.
        resolution (int): The model's resolution (discriminator ``in_scale``).
        channels (int): The model's ``img_channels``.
    """
    c, h, w = shape[-3:]
    if c != channels:
        have = f'{c} channels ({COLOURS.get(c, "?")})'
        want = f'img_channels={channels} ({COLOURS.get(channels, "?")})'
        if channels == 1:
            load = ("load them as grey with LoadImageFromFile("
                    "color_type='grayscale') in the train pipeline")
        elif channels == 3:
            load = ("load them as colour with LoadImageFromFile("
                    "color_type='color') in the train pipeline")
        else:
            load = f'convert them to {channels} channels'
        raise ValueError(
            f'The training images have {have} but the model has {want}: '
            f'{load}, or set img_channels={c} on the generator and '
            'discriminator.')
    if (h, w) != (resolution, resolution):
        raise ValueError(
            f'The training images are {h}x{w} (height x width) but the model '
            f'works at {resolution}x{resolution} (discriminator in_scale='
            f'{resolution}): resize the data to {resolution}x{resolution} with '
            f'{RESIZE_HINT}, or '
            'build the model for the data (generator out_scale and '
            'discriminator in_scale, a power of two).')


def check_batch_size(batch_size: int, group: int,
                     last: Optional[int] = None) -> None:
    """Raise one clear error when a batch cannot be split in MinibatchStdDev
    groups (the discriminator would raise at its first such batch).

    Args:
        batch_size (int): Images per batch and process.
        group (int): The discriminator's ``mbstd_group_size``.
        last (int, optional): Size of the last batch of an epoch, when an
            epoch-based sampler keeps it. Defaults to None.
    """
    if batch_size > group and batch_size % group:
        raise ValueError(
            f'train_dataloader.batch_size={batch_size} is not compatible with '
            f"the discriminator's MinibatchStdDev group size {group}: use a "
            f'batch size (per process) that is a multiple of {group} or at '
            f'most {group}, or set model.discriminator.mbstd_cfg.group_size '
            f'to a divisor of {batch_size}.')
    if last and last > group and last % group:
        raise ValueError(
            f'The last batch of each epoch has {last} images, which is not '
            f"compatible with the discriminator's MinibatchStdDev group size "
            f'{group}: set train_dataloader.drop_last=True, or a batch size '
            'that divides the dataset (per process).')


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Leave the random states as found (a check must not shift a run)."""
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() \
        else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class InputCheckHook(Hook):
    """Check the data and loaded checkpoints against the model, up front.

    ``before_train`` reads one sample of ``runner.train_dataloader`` through
    its pipeline, collate function and the model's data preprocessor (random
    states are restored afterwards) and raises one clear error when its
    channels or size differ from the model's ``img_channels`` and resolution,
    or when the batch size does not fit the discriminator's MinibatchStdDev
    group (also the last, smaller batch of an epoch-based sampler without
    ``drop_last``). Models without a discriminator ``in_scale`` (not MSG-GAN)
    are not checked. The model's own check at every iteration stays as the
    runtime guard.

    ``after_load_checkpoint`` (``load_from``, ``--resume``, ``tools/test.py``)
    compares the checkpoint's ``state_dict`` with the model before any weight is
    copied and raises naming the first parameter whose shape differs (and both
    shapes), or that only one side has.

    Enabled for every config by ``default_hooks.input_check`` in
    ``configs/_base_/msg_runtime.py``; ``default_hooks.input_check=None``
    removes it.

    Args:
        check_data (bool): Check the data in ``before_train``. Defaults to
            True.
        check_checkpoint (bool): Check loaded checkpoints. Defaults to True.
        allow_partial_checkpoint (bool): Accept checkpoints that lack some of
            the model's parameters or have others (differing shapes are still
            an error), e.g. to start from a run without EMA. Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 check_data: bool = True,
                 check_checkpoint: bool = True,
                 allow_partial_checkpoint: bool = False) -> None:
        self.check_data = check_data
        self.check_checkpoint = check_checkpoint
        self.allow_partial_checkpoint = allow_partial_checkpoint

    def before_train(self, runner) -> None:
        """Check one training sample and the batch size against the model.

        Args:
            runner (Runner): The runner.
        """
        if not self.check_data:
            return
        model = _unwrap(runner.model)
        disc = _unwrap(getattr(model, 'discriminator', None) or nn.Module())
        resolution = getattr(disc, 'in_scale', None)
        channels = getattr(disc, 'img_channels', None)
        group = getattr(disc, 'mbstd_group_size', None)
        if resolution is None or channels is None:
            return
        loader = runner.train_dataloader
        batch_size = loader.batch_size or getattr(loader.batch_sampler,
                                                  'batch_size', None)
        if group and batch_size:
            sampler = getattr(loader, 'sampler', None)
            last = None
            if not isinstance(sampler, InfiniteSampler) and hasattr(
                    sampler, '__len__') and not loader.drop_last:
                last = len(sampler) % batch_size
            check_batch_size(batch_size, group, last)
        with preserved_rng(), torch.no_grad():
            batch = loader.collate_fn([loader.dataset[0]])
            data = model.data_preprocessor(batch, True)
        samples = data.get('data_samples') if isinstance(data, dict) else None
        real = getattr(samples, 'gt_img', None)
        if isinstance(real, torch.Tensor) and real.dim() == 4:
            check_real_images(real.shape[1:], resolution, channels)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse a checkpoint that does not fit the model, before loading.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint as read (``state_dict`` inside).
        """
        if not self.check_checkpoint:
            return
        weights = checkpoint.get('state_dict', checkpoint)
        # as Runner.load_checkpoint's default revise_keys
        weights = {re.sub(r'^module\.', '', k): v for k, v in weights.items()}
        problem = weights_mismatch(
            # the names the loader matches: DDP wrappers looked through
            get_state_dict(runner.model), weights,
            not self.allow_partial_checkpoint)
        if problem:
            raise ValueError(
                f'The checkpoint (load_from / --resume) does not fit the '
                f'model: {problem}; it was trained with another architecture '
                'or resolution: use the config it was trained with (saved in '
                'its work dir) or a checkpoint of this config.')
