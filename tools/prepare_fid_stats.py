# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Compute and cache the real-image statistics of a config's offline metrics.

Usage:
    python tools/prepare_fid_stats.py CONFIG [--out PATH] [--split val|test]
        [--device cpu|cuda] [--cfg-options key=value ...]

Builds the config's val (or test) dataloader and model, then runs ``prepare``
of every ``OfflineFID`` / ``OfflineKID`` / ``MultiScaleFID`` metric, which
reads the statistics from the cache or computes them with mmagic's progress
bar and writes them. Without ``--out`` the files go to the default cache
(``~/.cache/openmmlab/mmagic/msg_offline/``), where training and
``tools/test.py`` find them again; with ``--out`` they go to PATH (one metric
only; MultiScaleFID adds ``-{res}`` before ``.pkl`` unless PATH has ``{res}``)
and the ``inception_pkl=`` to put in the config is printed.
"""
import argparse
import os.path as osp

import torch
from mmagic.registry import METRICS, MODELS
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from msg_plugin import MultiScaleFID, OfflineFID


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cache the real-image Inception statistics of the '
        'offline FID/KID metrics of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--out',
        help='statistics file to write (one metric only); default: the '
        'cache the metrics read by themselves')
    parser.add_argument(
        '--split',
        choices=['val', 'test'],
        default='val',
        help='use <split>_dataloader and <split>_evaluator (default: val)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device of the Inception network (default: cuda if available)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs merged into the '
        'config')
    return parser.parse_args()


def offline_metric_cfgs(cfg: Config, split: str) -> list:
    """The configs of the metrics whose statistics this tool prepares."""
    evaluator = cfg.get(f'{split}_evaluator') or {}
    metrics = evaluator.get('metrics', evaluator) if isinstance(
        evaluator, dict) else evaluator
    metrics = [metrics] if isinstance(metrics, dict) else list(metrics or [])
    chosen = []
    for metric in metrics:
        metric_cls = METRICS.get(metric.get('type'))
        if isinstance(metric_cls, type) and issubclass(metric_cls, OfflineFID):
            chosen.append(metric)
    if not chosen:
        names = [m.get('type') for m in metrics]
        raise SystemExit(
            f'{split}_evaluator of this config has no OfflineFID, OfflineKID '
            f'or MultiScaleFID metric (it has {names}); nothing to prepare.')
    return chosen


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.config):
        raise SystemExit(f'Config file {args.config!r} does not exist.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))

    metric_cfgs = offline_metric_cfgs(cfg, args.split)
    if args.out:
        if len(metric_cfgs) != 1:
            raise SystemExit(
                f'--out takes one statistics file, but {args.split}_evaluator '
                f'has {len(metric_cfgs)} offline metrics; drop --out to fill '
                'the default cache, which the metrics find by themselves.')
        out = args.out
        if (METRICS.get(metric_cfgs[0]['type']) is MultiScaleFID
                and '{res}' not in out):
            stem, ext = osp.splitext(out)
            out = f'{stem}-{{res}}{ext or ".pkl"}'
        metric_cfgs[0]['inception_pkl'] = out

    dataloader_cfg = cfg.get(f'{args.split}_dataloader')
    if not dataloader_cfg:
        raise SystemExit(f'The config has no {args.split}_dataloader.')
    dataloader = Runner.build_dataloader(dataloader_cfg)
    model = MODELS.build(cfg.model).to(args.device).eval()

    for metric_cfg in metric_cfgs:
        metric = METRICS.build(metric_cfg)
        print(f'{metric_cfg["type"]} (prefix {metric.prefix}): Inception '
              f'weights {metric.inception_file}')
        with torch.no_grad():
            metric.prepare(model, dataloader)
        for path, reused in metric.stats_files:
            state = 'already cached' if reused else 'written'
            print(f'  real statistics {state}: {osp.abspath(path)}')
        if args.out:
            print(f"  set inception_pkl='{metric_cfg['inception_pkl']}' in "
                  'this metric of the config to use it.')


if __name__ == '__main__':
    main()
