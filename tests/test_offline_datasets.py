# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Tests of the datasets read from Debian packages: Fashion-MNIST and the Noto
Color Emoji bitmaps (fetched by tools/install.sh into the install cache).

Without the data the tests on the real files are skipped with the reason,
except under CI (``CI`` set), where a missing dataset is a failure: the
install step must have fetched it.
"""
import msg_plugin  # noqa: F401  (must precede any mmagic.models import)

import gzip
import os
import shutil
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmagic.models.data_preprocessors import DataPreprocessor
from mmagic.registry import DATASETS
from msg_plugin import fashion_mnist_dataset as fm
from msg_plugin import noto_emoji_dataset as ne

PACK = dict(type='PackInputs')
FIX_FM = 'apt-get install dataset-fashion-mnist`'
FIX_EMOJI = 'apt-get install fonts-noto-color-emoji`'
FILES = ('{}-images-idx3-ubyte.gz', '{}-labels-idx1-ubyte.gz')


def _located(names, env_var, relpath, package):
    """The real files, or skip (fail under CI) when they are not there."""
    try:
        return fm.locate_offline_data('test', names, None, env_var, relpath,
                                      package)
    except FileNotFoundError as err:
        if os.environ.get('CI'):
            raise
        pytest.skip(f'offline data not installed ({err})')


def _preprocess(samples, training=True):
    return DataPreprocessor()(pseudo_collate(samples), training=training)


# ---------------------------------------------------------------- Fashion-MNIST


@pytest.fixture(scope='module')
def fashion_dir():
    names = [f.format(p) for p in ('train', 't10k') for f in FILES]
    paths = _located(names, 'MSG_FASHION_MNIST', fm.FASHION_MNIST_RELDIR,
                     'dataset-fashion-mnist')
    return os.path.dirname(paths[0])


@pytest.fixture(scope='module')
def fashion_train(fashion_dir):
    return DATASETS.build(dict(type='FashionMNISTDataset', pipeline=[PACK]))


@pytest.fixture(scope='module')
def fashion_test(fashion_dir):
    return DATASETS.build(
        dict(
            type='FashionMNISTDataset',
            split='test',
            interleave_classes=True,
            pipeline=[PACK]))


def test_fashion_splits(fashion_train, fashion_test):
    assert len(fashion_train) == 60000 and len(fashion_test) == 10000
    for ds, per_class in ((fashion_train, 6000), (fashion_test, 1000)):
        labels = np.array(
            [ds.get_data_info(i)['gt_label'] for i in range(len(ds))])
        assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10
    info = fashion_train.get_data_info(5)
    assert info['gt'].shape == (32, 32, 1) and info['gt'].dtype == np.uint8
    assert isinstance(info['gt_label'], int)
    assert info['gt_path'] == 'train-images-idx3-ubyte.gz#5'
    assert info['gt_color_type'] == 'grayscale'
    meta = fashion_train.metainfo
    assert meta['classes'][9] == 'Ankle boot' and len(meta['classes']) == 10
    assert (meta['split'], meta['img_size'], meta['sample_order']) == ('train',
                                                                       32,
                                                                       'file')
    assert fashion_test.metainfo['split'] == 'test'  # keys the FID caches


def test_fashion_values_match_the_files(fashion_dir, fashion_train):
    raw = fm._read_idx(
        os.path.join(fashion_dir, 'train-images-idx3-ubyte.gz'), 2051)
    assert raw.shape == (60000, 28, 28)
    assert raw.mean() == pytest.approx(72.94, abs=0.01)  # the upstream mean
    images = np.stack(
        [fashion_train.get_data_info(i)['gt'][..., 0] for i in range(0, 60000,
                                                                      600)])
    # centred by 2 px of zeros on each side, the 28x28 untouched
    assert np.array_equal(images[:, 2:30, 2:30], raw[::600])
    assert images[:, :2].max() == 0 and images[:, :, 30:].max() == 0


def test_fashion_interleaved_test_split(fashion_dir, fashion_test):
    labels = [fashion_test.get_data_info(i)['gt_label'] for i in range(100)]
    assert labels == list(range(10)) * 10
    assert fashion_test.metainfo['sample_order'] == 'interleaved'
    file_labels = fm._read_idx(
        os.path.join(fashion_dir, 't10k-labels-idx1-ubyte.gz'), 2049)
    # item k*10+c is the k-th image of class c in the file
    for k, c in ((0, 0), (0, 7), (3, 2)):
        index = int(np.flatnonzero(file_labels == c)[k])
        info = fashion_test.get_data_info(10 * k + c)
        assert info['gt_path'] == f't10k-images-idx3-ubyte.gz#{index}'


@pytest.mark.parametrize('training', [True, False])
def test_fashion_batch_through_data_preprocessor(fashion_test, training):
    out = _preprocess([fashion_test[i] for i in range(4)], training)
    gt_img = out['data_samples'].gt_img
    assert gt_img.shape == (4, 1, 32, 32)
    if training:
        assert gt_img.dtype == torch.float32
        assert gt_img.min() == -1 and gt_img.max() <= 1
    else:
        assert gt_img.dtype == torch.uint8
    assert out['data_samples'].gt_label.label.flatten().tolist() == [0, 1, 2, 3]


def _write_idx(path, magic, array, truncate=0):
    dims = np.array([magic, *array.shape], '>i4').tobytes()
    data = dims + array.astype(np.uint8).tobytes()
    with gzip.open(path, 'wb') as f:
        f.write(data[:len(data) - truncate])


def _tiny_split(folder, prefix='t10k', n=20, size=28):
    """A valid idx pair of ``n`` images (image i is filled with i)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = np.repeat(np.arange(n, dtype=np.uint8), size * size)
    _write_idx(folder / FILES[0].format(prefix), 2051,
               images.reshape(n, size, size))
    _write_idx(folder / FILES[1].format(prefix), 2049, np.arange(n) % 10)
    return folder


def test_fashion_data_root_and_env(tmp_path, monkeypatch):
    folder = _tiny_split(tmp_path / 'tiny')
    ds = DATASETS.build(
        dict(type='FashionMNISTDataset', split='test', data_root=str(folder),
             img_size=16))
    assert len(ds) == 20
    assert ds.get_data_info(7)['gt'].shape == (16, 16, 1)
    assert ds.get_data_info(7)['gt'][8, 8, 0] == 7  # area-shrunk, flat
    monkeypatch.setenv('MSG_FASHION_MNIST', str(folder))
    ds = DATASETS.build(dict(type='FashionMNISTDataset', split='test'))
    assert ds.data_root == str(folder) and len(ds) == 20


@pytest.mark.parametrize(
    'damage, message',
    [('magic', 'its magic number is 2049, not 2051'),
     ('short', '(15680 bytes), but 15652 bytes follow'),
     ('gzip', 'not a readable gzip file'),
     ('labels', 'it holds 19 labels for 20 images'),
     ('header', 'less than the 16-byte header')])
def test_fashion_corrupt_files(tmp_path, damage, message):
    folder = _tiny_split(tmp_path)
    images = folder / FILES[0].format('t10k')
    if damage == 'magic':
        _write_idx(images, 2049, np.zeros((20, 28, 28)))
    elif damage == 'short':  # a byte-exact, valid gzip of too little data
        _write_idx(images, 2051, np.zeros((20, 28, 28)), truncate=28)
    elif damage == 'gzip':  # the .gz itself cut short
        images.write_bytes(images.read_bytes()[:40])
    elif damage == 'labels':
        _write_idx(folder / FILES[1].format('t10k'), 2049, np.zeros(19))
    else:
        with gzip.open(images, 'wb') as f:
            f.write(b'\x00\x00\x08\x03')
    with pytest.raises(ValueError, match='FashionMNISTDataset') as err:
        DATASETS.build(
            dict(type='FashionMNISTDataset', split='test',
                 data_root=str(folder)))
    text = str(err.value)
    assert message in text, text
    assert 'tools/install.sh' in text and FIX_FM in text


def test_fashion_missing_files(tmp_path, monkeypatch):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(
            dict(type='FashionMNISTDataset',
                 data_root=str(tmp_path / 'empty')))
    text = str(err.value)
    assert 'train-images-idx3-ubyte.gz' in text
    assert str(tmp_path / 'empty') in text
    assert 'tools/install.sh' in text and FIX_FM in text
    # the default search: the install cache, then the system-wide install
    monkeypatch.delenv('MSG_FASHION_MNIST', raising=False)
    monkeypatch.setenv('MSG_DATA_DIR', str(tmp_path / 'cache'))
    if os.path.isfile(f'/{fm.FASHION_MNIST_RELDIR}/train-images-idx3-ubyte.gz'):
        pytest.skip('installed system-wide: the default search finds it')
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(dict(type='FashionMNISTDataset'))
    text = str(err.value)
    assert str(tmp_path / 'cache' / fm.FASHION_MNIST_RELDIR) in text
    assert '/usr/share/datasets/fashion-mnist (system-wide' in text


def test_fashion_bad_split():
    with pytest.raises(ValueError, match="'train' or 'test', got 'val'"):
        DATASETS.build(dict(type='FashionMNISTDataset', split='val'))


# ------------------------------------------------------------------- Noto emoji


@pytest.fixture(scope='module')
def emoji_font():
    path, = _located((ne.NOTO_EMOJI_FILE, ), 'MSG_NOTO_EMOJI',
                     ne.NOTO_EMOJI_RELDIR, ne.NOTO_EMOJI_PACKAGE)
    return path


@pytest.fixture(scope='module')
def emoji_cache(emoji_font, tmp_path_factory):
    """A fresh cache, filled by the first build (the only decoding here)."""
    cache = tmp_path_factory.mktemp('emoji_cache')
    DATASETS.build(dict(type='NotoEmojiDataset', cache_dir=str(cache)))
    return cache


def _emoji(cache, **kwargs):
    return DATASETS.build(
        dict(type='NotoEmojiDataset', cache_dir=str(cache), pipeline=[PACK],
             **kwargs))


def _no_decoding(*args, **kwargs):
    raise AssertionError('decoded although the cache holds the emoji')


def test_emoji_cache_reused(emoji_font, emoji_cache, monkeypatch):
    files = sorted(p.name for p in emoji_cache.iterdir())
    stat = os.stat(emoji_font)
    assert files == [f'noto_emoji_64px_{stat.st_size}_{stat.st_mtime_ns}.npy']
    monkeypatch.setattr(ne, 'decode_emoji', _no_decoding)
    assert len(_emoji(emoji_cache)) == 3926
    # another img_size, or another font file, is not in the cache
    with pytest.raises(AssertionError, match='decoded although'):
        _emoji(emoji_cache, img_size=32)


def test_emoji_cache_keyed_by_font_file(emoji_font, emoji_cache, tmp_path,
                                        monkeypatch):
    font = tmp_path / 'copy.ttf'
    shutil.copyfile(emoji_font, font)
    os.utime(font, ns=(1, os.stat(emoji_font).st_mtime_ns + 10**9))
    monkeypatch.setattr(ne, 'decode_emoji', _no_decoding)
    with pytest.raises(AssertionError, match='decoded although'):
        _emoji(emoji_cache, font_path=str(font))


def test_emoji_records(emoji_cache, monkeypatch):
    monkeypatch.setattr(ne, 'decode_emoji', _no_decoding)
    ds = _emoji(emoji_cache)
    assert len(ds) == 3926
    images = np.stack([ds.get_data_info(i)['gt'] for i in range(0, 3926, 7)])
    assert images.shape[1:] == (64, 64, 3) and images.dtype == np.uint8
    # white background: the padded rows and the corners
    assert (images[:, 0] == 255).all() and (images[:, -1] == 255).all()
    assert (images[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 255).all()
    # colourful: a good share of the pixels is far from grey
    spread = images.max(-1).astype(int) - images.min(-1)
    assert (spread > 40).mean() > 0.2
    info = ds.get_data_info(0)
    assert info['gt_path'] == 'NotoColorEmoji.ttf#numbersign'
    assert info['gt_color_type'] == 'color' and 'gt_label' not in info
    assert ds.metainfo['img_size'] == 64
    sample = ds[100]['data_samples']
    assert sample.gt_img.shape == (3, 64, 64)
    assert sample.gt_img.dtype == torch.uint8
    out = _preprocess([ds[i] for i in (0, 500, 2000)])
    gt_img = out['data_samples'].gt_img
    assert gt_img.shape == (3, 3, 64, 64) and gt_img.max() == 1


def test_emoji_subsets_and_order(emoji_font, emoji_cache, monkeypatch):
    monkeypatch.setattr(ne, 'decode_emoji', _no_decoding)
    counts = {(f, t): len(_emoji(emoji_cache, drop_flags=f,
                                 drop_skin_tones=t))
              for f in (False, True) for t in (False, True)}
    assert counts == {(False, False): 3926, (True, False): 3575,
                      (False, True): 2031, (True, True): 1680}
    # known members: the US flag, thumbs up with a medium skin tone
    from fontTools.ttLib import TTFont
    sequences = ne.emoji_sequences(TTFont(emoji_font))
    glyph = {seq: name for name, seqs in sequences.items() for seq in seqs}
    us_flag, toned = glyph[(0x1F1FA, 0x1F1F8)], glyph[(0x1F44D, 0x1F3FD)]
    thumbs = glyph[(0x1F44D, )]

    def names(**kwargs):
        ds = _emoji(emoji_cache, **kwargs)
        return {ds.get_data_info(i)['gt_path'].split('#')[1]
                for i in range(len(ds))}

    assert {us_flag, toned, thumbs} <= names()
    assert us_flag not in names(drop_flags=True)
    kept = names(drop_skin_tones=True)
    assert toned not in kept and thumbs in kept and us_flag in kept
    shuffled = _emoji(emoji_cache, shuffle_order=True)
    again = _emoji(emoji_cache, shuffle_order=True)
    first = [shuffled.get_data_info(i)['gt_path'] for i in range(20)]
    assert first == [again.get_data_info(i)['gt_path'] for i in range(20)]
    plain = _emoji(emoji_cache)
    assert first != [plain.get_data_info(i)['gt_path'] for i in range(20)]
    assert shuffled.metainfo['sample_order'] == 'shuffled'
    assert shuffled.metainfo['drop_flags'] is False


def test_decode_emoji_composites_on_white():
    bgra = np.zeros((128, 136, 4), np.uint8)
    bgra[..., 2] = 255  # red
    bgra[:64, :, 3] = 255  # top half opaque, bottom half transparent
    png = cv2.imencode('.png', bgra)[1].tobytes()
    img = ne.decode_emoji([png], 68)[0]  # 136x136 padded, halved
    assert img.shape == (68, 68, 3)
    assert (img[:2] == 255).all() and (img[-2:] == 255).all()  # 4-px padding
    assert img[20, 30].tolist() == [255, 0, 0]  # opaque red
    assert img[50, 30].tolist() == [255, 255, 255]  # transparent -> white


def test_emoji_missing_font(tmp_path, monkeypatch):
    missing = tmp_path / 'NoSuchEmoji.ttf'
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(dict(type='NotoEmojiDataset', font_path=str(missing)))
    text = str(err.value)
    assert str(missing) in text and 'NotoColorEmoji.ttf' in text
    assert 'tools/install.sh' in text and FIX_EMOJI in text
    monkeypatch.setenv('MSG_NOTO_EMOJI', str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r'\$MSG_NOTO_EMOJI'):
        DATASETS.build(dict(type='NotoEmojiDataset'))


@pytest.mark.parametrize('img_size', [256, 48, 2])
def test_emoji_bad_size(img_size):
    with pytest.raises(ValueError, match='power of two >= 4 and <= 128'):
        DATASETS.build(dict(type='NotoEmojiDataset', img_size=img_size))


def test_emoji_without_fonttools(emoji_font, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'fontTools.ttLib', None)
    with pytest.raises(ModuleNotFoundError, match='fonttools==4.68.0'):
        DATASETS.build(
            dict(type='NotoEmojiDataset', cache_dir=str(tmp_path)))
