# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""A generator on its own: taken from a checkpoint, shared as safetensors.

An export is ONE ``.safetensors`` file: the generator's ``state_dict`` (weights
and the buffers sampling needs, e.g. ``w_avg`` and the fixed noise maps of
``MSGStyleGenerator``) and, in the metadata, the generator's config as JSON.
Loading it reads tensors and JSON only; nothing is unpickled. Training
checkpoints (mmengine ``.pth``) are pickles: read trusted files only.
"""
import glob
import json
import os.path as osp
from typing import Optional, Tuple, Union

import torch.nn as nn
from mmagic.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import CheckpointLoader
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .input_check_hook import weights_mismatch

EXPORT_VERSION = '1'
VERSION_KEY = 'msg_gan_export'  # metadata key that marks an export
CONFIG_KEY = 'generator_config'  # the generator's config, JSON
INFO_KEY = 'source'  # where the weights came from, JSON (informative)
PREFIXES = dict(ema='generator_ema.module.', orig='generator.')


class ExportError(ValueError):
    """A file, config or checkpoint that cannot give a generator."""


def generator_config(cfg: Union[str, Config]) -> dict:
    """The generator's config (``model.generator``) of a run config.

    The model-level ``noise_size`` is added when set, as ``BaseGAN`` does.

    Args:
        cfg (str | Config): A config file or a loaded config.

    Returns:
        dict: A plain, JSON-ready dict with ``type``.
    """
    if isinstance(cfg, str):
        if not osp.isfile(cfg):
            raise ExportError(f'Config file {cfg!r} does not exist.')
        cfg = Config.fromfile(cfg)
    model = cfg.get('model') or {}
    gen = model.get('generator') if hasattr(model, 'get') else None
    if not hasattr(gen, 'get') or 'type' not in gen:
        raise ExportError(
            'The config has no model.generator dict with a type: '
            'pass the config the checkpoint was trained with.')
    gen = gen.to_dict() if hasattr(gen, 'to_dict') else dict(gen)
    if model.get('noise_size') and gen.get('noise_size') is None:
        gen['noise_size'] = model['noise_size']
    return gen


def find_run_config(checkpoint: str) -> str:
    """The run config saved next to a checkpoint: ``<work_dir>/<cfg>.py``.

    Args:
        checkpoint (str): Path of a checkpoint in a work dir.

    Returns:
        str: Path of the config.
    """
    work_dir = osp.dirname(osp.abspath(checkpoint))
    found = sorted(glob.glob(osp.join(work_dir, '*.py')))
    named = osp.join(work_dir, osp.basename(work_dir) + '.py')
    if named in found:
        return named
    if len(found) != 1:
        raise ExportError(
            f'Found {len(found)} configs next to {checkpoint} ({found}): '
            'pass the run config with --config.')
    return found[0]


def build_generator(cfg: dict, state_dict: dict, source: str) -> nn.Module:
    """Build a generator from its config and load ``state_dict`` strictly.

    Args:
        cfg (dict): The generator's config, with ``type``.
        state_dict (dict): Its tensors.
        source (str): What the tensors were read from, for errors.

    Returns:
        nn.Module: The generator, in eval mode, on the CPU. It is built in
        mmagic's registry scope, as the Runner does, also outside a run.
    """
    if not isinstance(cfg, dict) or not isinstance(cfg.get('type'), str):
        raise ExportError(f'The generator config of {source} is not a dict '
                          f'with a type (got {cfg!r}): re-export it.')
    if MODELS.get(cfg['type']) is None:
        raise ExportError(
            f"Generator type {cfg['type']!r} of {source} is not registered in "
            "mmagic's MODELS: import the package that defines it first.")
    try:
        with DefaultScope.overwrite_default_scope('mmagic'):  # e.g. PixelNorm
            generator = MODELS.build(dict(cfg))
    except (AssertionError, KeyError, TypeError, ValueError) as err:
        raise ExportError(
            f'Cannot build the generator of {source} from its config '
            f'({err}): pass a generator config.') from None
    problem = weights_mismatch(generator.state_dict(), state_dict)
    if problem:  # the parameter and both shapes, not torch's long list
        raise ExportError(
            f'The weights of {source} do not fit the generator config '
            f"({cfg['type']}): {problem}. Use the config the checkpoint was "
            'trained with (saved in its work dir).')
    try:
        generator.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        first = (str(err).split('\n\t')[1:2] or [str(err)])[0].strip()
        first = first if len(first) < 160 else first[:157] + '...'
        raise ExportError(
            f'The weights of {source} do not fit the generator config '
            f"({cfg['type']}): {first} Use the config the checkpoint was "
            'trained with (saved in its work dir).') from None
    return generator.eval()


def load_checkpoint_generator(checkpoint: str,
                              cfg: Union[str, Config, dict],
                              model: str = 'ema',
                              device: str = 'cpu') -> Tuple[nn.Module, dict]:
    """The EMA (or original) generator of an mmengine training checkpoint.

    The checkpoint is a pickle: load trusted files only.

    Args:
        checkpoint (str): Path of the ``.pth`` file.
        cfg (str | Config | dict): The run config, or the generator's config.
        model (str): ``'ema'`` (the averaged copy) or ``'orig'``.
            Defaults to ``'ema'``.
        device (str): Where to put the generator. Defaults to ``'cpu'``.

    Returns:
        tuple[nn.Module, dict]: The generator (eval mode) and its config.
    """
    if model not in PREFIXES:
        raise ExportError(f"model must be 'ema' or 'orig', got {model!r}.")
    gen_cfg = cfg if isinstance(cfg, dict) and 'model' not in cfg \
        else generator_config(cfg)
    if not osp.isfile(checkpoint):
        raise ExportError(f'Checkpoint {checkpoint!r} does not exist.')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    weights = ckpt.get('state_dict', ckpt)
    prefix = PREFIXES[model]
    state = {
        k[len(prefix):]: v
        for k, v in weights.items() if k.startswith(prefix)
    }
    if not state:
        hint = ('the model was trained without ema_config: use --model orig'
                if model == 'ema' else 'pass a checkpoint of an MSGGAN run')
        raise ExportError(f'{checkpoint} has no {prefix}* weights: {hint}.')
    generator = build_generator(gen_cfg, state, checkpoint)
    return generator.to(device), gen_cfg


def save_generator(generator: nn.Module,
                   cfg_dict: dict,
                   path: str,
                   info: Optional[dict] = None) -> None:
    """Write a generator and its config into one ``.safetensors`` file.

    Args:
        generator (nn.Module): The generator (its ``state_dict`` is saved).
        cfg_dict (dict): The config that builds it, with ``type``.
        path (str): The output file.
        info (dict, optional): JSON-ready notes on the source (checkpoint,
            iteration, ema/orig), stored in the metadata. Defaults to None.
    """
    name = str(cfg_dict.get('type', '')).split('.')[-1]
    if name != type(generator).__name__:
        raise ExportError(
            f'The config builds {name or "nothing"!r} but the generator is a '
            f'{type(generator).__name__}: pass the config of this generator.')
    try:
        metadata = {
            'format': 'pt',
            VERSION_KEY: EXPORT_VERSION,
            CONFIG_KEY: json.dumps(cfg_dict, sort_keys=True),
            INFO_KEY: json.dumps(info or {}, sort_keys=True)
        }
    except TypeError as err:
        raise ExportError(
            f'The generator config is not JSON data ({err}): '
            'use plain numbers, strings, lists and dicts.') from None
    # clones: no shared storage (safetensors refuses it), contiguous, on CPU
    tensors = {
        k: v.detach().cpu().clone().contiguous()
        for k, v in generator.state_dict().items()
    }
    save_file(tensors, path, metadata=metadata)


def read_export(path: str) -> Tuple[dict, dict, dict]:
    """Read an export without building anything: config, info and tensors.

    Args:
        path (str): A file written by :func:`save_generator`.

    Returns:
        tuple[dict, dict, dict]: Config, info and the tensors (on the CPU).
    """
    if not osp.isfile(path):
        raise ExportError(f'Export file {path!r} does not exist.')
    try:
        with safe_open(path, framework='pt') as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as err:
        raise ExportError(f'{path} is not a safetensors file ({err}): pass a '
                          'file written by tools/export.py.') from None
    if VERSION_KEY not in metadata or CONFIG_KEY not in metadata:
        raise ExportError(
            f'{path} has no generator config in its metadata, so it is not a '
            'generator export: write one with tools/export.py CHECKPOINT.')
    if metadata[VERSION_KEY] != EXPORT_VERSION:
        raise ExportError(f'{path} is export version {metadata[VERSION_KEY]}; '
                          f'this msg_plugin reads version {EXPORT_VERSION}.')
    try:
        cfg = json.loads(metadata[CONFIG_KEY])
        info = json.loads(metadata.get(INFO_KEY, '{}'))
    except json.JSONDecodeError as err:
        raise ExportError(f'The generator config in {path} is not valid JSON '
                          f'({err}): re-export it.') from None
    return cfg, info, tensors


def load_generator(path: str, device: str = 'cpu') -> nn.Module:
    """Build the generator of an export and load its tensors (strict).

    Only safetensors and JSON are read: nothing is unpickled.

    Args:
        path (str): A file written by :func:`save_generator`.
        device (str): Where to put the generator. Defaults to ``'cpu'``.

    Returns:
        nn.Module: The generator, in eval mode.
    """
    cfg, _, tensors = read_export(path)
    return build_generator(cfg, tensors, path).to(device)
