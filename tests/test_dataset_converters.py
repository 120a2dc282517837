# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The dataset converters of tools/dataset_converters, run as the CLI."""
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / 'tools' / 'dataset_converters'
GOOD = ['a.png', 'UP.png', 'd16.png', 'sub/g.png', 'sub/deeper/rgba.png']
BAD = ['trunc.jpg', 'sub/text.png', 'zero.jpg']
CLASSES = ['airplane', 'automobile', 'bird']


def run(script, *args, ok=True):
    proc = subprocess.run([sys.executable, str(TOOLS / script)] +
                          [str(a) for a in args],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


def summary(proc):
    return proc.stdout.strip().splitlines()[-1]


def outputs(dst):
    return sorted(
        p.relative_to(dst).as_posix() for p in Path(dst).rglob('*.png'))


def read(path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img[..., ::-1] if img.ndim == 3 else img  # RGB


@pytest.fixture
def src(tmp_path):
    """Images of several kinds, sizes and depths, plus three broken files."""
    rng = np.random.default_rng(0)
    root = tmp_path / 'src'
    (root / 'sub' / 'deeper').mkdir(parents=True)
    bright = (rng.random((37, 50, 3)) * 55 + 200).astype(np.uint8)
    Image.fromarray(bright).save(root / 'a.jpg', quality=95)  # 50 wide
    Image.fromarray(bright[:, :40]).save(root / 'UP.JPG')
    grey = (rng.random((64, 20)) * 55 + 200).astype(np.uint8)  # 20 wide
    Image.fromarray(grey).save(root / 'sub' / 'g.png')
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[:, 15:] = (0, 0, 255, 255)  # left half transparent, right blue
    Image.fromarray(rgba).save(root / 'sub' / 'deeper' / 'rgba.png')
    cv2.imwrite(str(root / 'd16.png'), np.full((10, 12), 128 * 257, np.uint16))
    jpeg = (root / 'a.jpg').read_bytes()
    (root / 'trunc.jpg').write_bytes(jpeg[:len(jpeg) // 2])
    (root / 'sub' / 'text.png').write_text('not an image')
    (root / 'zero.jpg').write_bytes(b'')
    (root / 'notes.txt').write_text('ignored')
    return root


def test_crop_converts_and_reports_bad_files(src, tmp_path):
    dst = tmp_path / 'dst'
    proc = run('images_to_square.py', src, dst, '--size', 32, '--workers', 1)
    assert summary(proc) == 'converted=5 skipped_existing=0 bad=3'
    assert outputs(dst) == sorted(GOOD)
    for name in GOOD:
        img = read(dst / name)
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8, name
    assert read(dst / 'a.png').min() > 150  # cropped: no border
    assert np.all(read(dst / 'd16.png') == 128)  # 16 bit scaled to 8
    rgba = read(dst / 'sub/deeper/rgba.png').astype(int)
    assert np.all(rgba[:, :14] == 255)  # transparent -> white
    assert np.abs(rgba[:, 18:] - (0, 0, 255)).max() <= 1
    listed = (dst / 'bad_files.txt').read_text().splitlines()
    assert sorted(line.split('\t')[0] for line in listed) == sorted(
        str(src / name) for name in BAD)
    for name in BAD:
        assert f'bad file: {src / name}: ' in proc.stdout
    assert 'truncated' in proc.stdout and '0 bytes' in proc.stdout
    assert not [p for p in dst.rglob('.*')]  # no temporary file left

    again = run('images_to_square.py', src, dst, '--size', 32)
    assert summary(again) == 'converted=0 skipped_existing=5 bad=3'
    other = run('images_to_square.py', src, dst, '--size', 64, ok=False)
    assert 'differ from --size 64' in other.stderr


def test_pad_grey_with_workers(src, tmp_path):
    dst = tmp_path / 'dst'
    proc = run('images_to_square.py', src, dst, '--size', 64, '--mode', 'pad',
               '--grey', '--workers', 2)
    assert summary(proc) == 'converted=5 skipped_existing=0 bad=3'
    for name in GOOD:
        assert read(dst / name).shape == (64, 64), name
    wide = read(dst / 'a.png')  # 50x37: black bands above and below
    assert wide[:5].max() == 0 and wide[-5:].max() == 0
    assert wide[20:44].min() > 150  # the image spans the full width
    tall = read(dst / 'sub/g.png')  # 20x64: black bands left and right
    assert tall[:, :20].max() == 0 and tall[:, -20:].max() == 0
    assert tall[:, 28:36].min() > 150

    white = tmp_path / 'white'
    run('images_to_square.py', src, white, '--size', 64, '--mode', 'pad',
        '--pad-value', 255)
    assert read(white / 'a.png')[:5].min() == 255


def test_rerun_resumes_after_interruption(src, tmp_path):
    dst = tmp_path / 'dst'
    run('images_to_square.py', src, dst, '--size', 16)
    (dst / 'sub' / 'g.png').unlink()
    # what a killed run leaves: half-written temporary files
    (dst / '.a.png.x1y2.convert-tmp').write_bytes(b'\x89PNG\r\n')
    (dst / 'sub' / '.g.png.abcd.convert-tmp').write_bytes(b'')
    proc = run('images_to_square.py', src, dst, '--size', 16)
    assert summary(proc) == 'converted=1 skipped_existing=4 bad=3'
    assert outputs(dst) == sorted(GOOD)
    assert read(dst / 'sub/g.png').shape == (16, 16, 3)
    assert not [p for p in dst.rglob('*convert-tmp')]


def test_destination_inside_source(src):
    dst = src / 'square'
    proc = run('images_to_square.py', src, dst, '--size', 8)
    assert summary(proc) == 'converted=5 skipped_existing=0 bad=3'
    again = run('images_to_square.py', src, dst, '--size', 8)  # not re-read
    assert summary(again) == 'converted=0 skipped_existing=5 bad=3'
    same = run('images_to_square.py', src, src, '--size', 8, ok=False)
    assert 'DST must differ from SRC' in same.stderr


@pytest.mark.parametrize('size', [12, 4, 1000])
def test_size_must_be_power_of_two(src, tmp_path, size):
    proc = run('images_to_square.py', src, tmp_path / 'dst', '--size', size,
               ok=False)
    assert proc.returncode == 2
    assert proc.stderr.count('error:') == 1
    assert 'power of two >= 8' in proc.stderr and str(size) in proc.stderr
    assert not (tmp_path / 'dst').exists()


def test_missing_or_empty_source(tmp_path):
    proc = run('images_to_square.py', tmp_path / 'nowhere', tmp_path / 'dst',
               '--size', 32, ok=False)
    assert proc.stderr.strip().splitlines() == [
        f"images_to_square: error: the source folder "
        f"'{tmp_path / 'nowhere'}' does not exist or is not a folder"
    ]
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'readme.txt').write_text('no images')
    proc = run('images_to_square.py', tmp_path / 'empty', tmp_path / 'dst',
               '--size', 32, ok=False)
    assert 'no image' in proc.stderr and proc.stderr.count('error:') == 1


class Evil:

    def __reduce__(self):
        return print, ('this must not run', )


def cifar_batch(path, rng, count, protocol):
    data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
    labels = [int(x) for x in rng.integers(0, len(CLASSES), count)]
    with open(path, 'wb') as f:
        pickle.dump({b'data': data, b'labels': labels}, f, protocol=protocol)
    return data, labels


@pytest.fixture
def cifar(tmp_path):
    """A cifar-10-batches-py folder with 2 good, 1 damaged, 1 malicious and
    2 missing training batches, and a test batch."""
    rng = np.random.default_rng(1)
    root = tmp_path / 'cifar-10-batches-py'
    root.mkdir()
    batches = {
        'data_batch_1': cifar_batch(root / 'data_batch_1', rng, 3, 2),
        'data_batch_2': cifar_batch(root / 'data_batch_2', rng, 2, 5),
        'test_batch': cifar_batch(root / 'test_batch', rng, 2, 2)
    }
    with open(root / 'batches.meta', 'wb') as f:
        names = [n.encode() for n in CLASSES]
        pickle.dump({b'label_names': names, b'num_vis': 3072}, f, protocol=2)
    good = (root / 'data_batch_1').read_bytes()
    (root / 'data_batch_3').write_bytes(good[:len(good) // 2])
    (root / 'data_batch_4').write_bytes(pickle.dumps({b'data': Evil()}))
    return root, batches


def check_cifar_pngs(dst, batches, offsets):
    expected = []
    for name, offset in offsets.items():
        data, labels = batches[name]
        for i, (row, label) in enumerate(zip(data, labels)):
            rel = f'{CLASSES[label]}/{offset + i:05d}.png'
            img = read(Path(dst) / rel)
            assert img.shape == (32, 32, 3) and img.dtype == np.uint8
            assert np.array_equal(img, row.reshape(3, 32, 32).transpose(
                1, 2, 0)), rel
            expected.append(rel)
    assert outputs(dst) == sorted(expected)


def test_cifar_folder(cifar, tmp_path):
    root, batches = cifar
    dst = tmp_path / 'png'
    proc = run('cifar10_to_png.py', root, dst)
    assert summary(proc) == 'converted=5 skipped_existing=0 bad=3'
    check_cifar_pngs(dst, batches, dict(data_batch_1=0, data_batch_2=10000))
    assert {p.name for p in dst.iterdir() if p.is_dir()} <= set(CLASSES)
    assert 'this must not run' not in proc.stdout
    listed = dict(
        line.split('\t') for line in (dst / 'bad_files.txt').read_text(
        ).splitlines())
    assert sorted(listed) == [
        str(root / f'data_batch_{k}') for k in (3, 4, 5)
    ]
    assert 'damaged batch' in listed[str(root / 'data_batch_3')]
    assert 'refusing to load builtins.print' in listed[str(root /
                                                           'data_batch_4')]
    assert listed[str(root / 'data_batch_5')] == 'missing'
    for k in (3, 4, 5):
        assert f'bad file: {root}/data_batch_{k}: ' in proc.stdout

    (dst / 'bird').mkdir(exist_ok=True)
    (dst / 'bird' / '.00001.png.zz.convert-tmp').write_bytes(b'\x89P')
    again = run('cifar10_to_png.py', tmp_path, dst, '--split', 'all')
    assert summary(again) == 'converted=2 skipped_existing=5 bad=3'
    check_cifar_pngs(dst, batches,
                     dict(data_batch_1=0, data_batch_2=10000,
                          test_batch=50000))
    assert not [p for p in dst.rglob('*convert-tmp')]


def test_cifar_archive(cifar, tmp_path):
    root, batches = cifar
    archive = tmp_path / 'cifar-10-python.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(root, arcname='cifar-10-batches-py')
    dst = tmp_path / 'png'
    proc = run('cifar10_to_png.py', archive, dst, '--split', 'test')
    assert summary(proc) == 'converted=2 skipped_existing=0 bad=0'
    check_cifar_pngs(dst, batches, dict(test_batch=50000))
    assert not (dst / 'bad_files.txt').exists()

    (tmp_path / 'broken.tar.gz').write_bytes(archive.read_bytes()[:100])
    proc = run('cifar10_to_png.py', tmp_path / 'broken.tar.gz', dst, ok=False)
    assert 'cannot read the archive' in proc.stderr
    proc = run('cifar10_to_png.py', tmp_path / 'nowhere', dst, ok=False)
    assert 'does not exist' in proc.stderr
