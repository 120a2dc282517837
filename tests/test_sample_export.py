# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""tools/export.py, tools/sample.py and the safetensors generator export."""
import importlib.util
import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmagic.registry import MODELS
from mmengine import MessageHub
from mmengine.config import Config
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu
from safetensors import safe_open
from safetensors.torch import save_file

from msg_plugin.exported_generator import (ExportError, load_generator,
                                           read_export, save_generator)

ROOT = Path(__file__).resolve().parents[1]
PROGAN = 'configs/msg_progan_mnist.py'
STYLEGAN = 'configs/msg_stylegan_mnist.py'
TINY = dict(channel_base=64, max_channels=8)


def tool(name):
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_tool, sample_tool = tool('export'), tool('sample')


def make_run(work_root, config):
    """A tiny model saved as the Runner saves it: work_dirs/<cfg>/{<cfg>.py,
    iter_2.pth}, the EMA generator different from the trained one."""
    cfg = Config.fromfile(str(ROOT / config))
    for net in ('generator', 'discriminator'):
        cfg.model[net].update(TINY)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ema = model.generator_ema.module
    with torch.no_grad():
        for p in ema.parameters():
            p.add_(0.1 * torch.randn_like(p))
        if hasattr(ema, 'w_avg'):
            ema.w_avg.normal_()
    name = Path(config).stem
    work_dir = Path(work_root) / name
    work_dir.mkdir(parents=True)
    cfg.dump(str(work_dir / f'{name}.py'))
    ckpt = work_dir / 'iter_2.pth'
    save_checkpoint(
        dict(
            meta=dict(epoch=0, iter=2, cfg=cfg.pretty_text),
            state_dict=weights_to_cpu(model.state_dict()),
            message_hub=MessageHub.get_current_instance().state_dict()),
        str(ckpt))
    return model, ckpt


@pytest.fixture(scope='module', params=[PROGAN, STYLEGAN])
def run(request, tmp_path_factory):
    model, ckpt = make_run(tmp_path_factory.mktemp('run'), request.param)
    return dict(model=model, ckpt=ckpt, export=export_tool.main([str(ckpt)]))


def scales_of(generator, noise):
    kwargs = {}
    if hasattr(generator, 'w_avg'):
        kwargs['randomize_noise'] = False
    with torch.no_grad():
        return generator(noise, return_scales=True, **kwargs)


def read_png(path):
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def test_export_is_safetensors_with_config_and_ema_weights(run):
    path = Path(run['export'])
    assert path.name == 'iter_2_ema.safetensors'
    raw = path.read_bytes()
    size, = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + size])
    # the header's tensors fill the rest of the file: nothing else is in it
    ends = [
        v['data_offsets'][1] for k, v in header.items() if k != '__metadata__'
    ]
    assert 8 + size + max(ends) == len(raw)
    assert pickle.PROTO not in raw[:8 + size]  # JSON header, no pickle opcode

    ema = run['model'].generator_ema.module
    with safe_open(str(path), framework='pt') as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    cfg = json.loads(meta['generator_config'])
    assert cfg == dict(run['model']._gen_cfg)
    assert set(tensors) == set(ema.state_dict())  # buffers included
    if hasattr(ema, 'w_avg'):
        assert {'w_avg', 'injected_noise_0'} <= set(tensors)
    for name, value in ema.state_dict().items():
        assert torch.equal(tensors[name], value), name
    orig = run['model'].generator.state_dict()
    assert any(not torch.equal(tensors[k], orig[k]) for k in orig)


def test_orig_export_holds_the_trained_generator(run, tmp_path):
    out = export_tool.main([
        str(run['ckpt']), '--model', 'orig', '--out',
        str(tmp_path / 'g.safetensors')
    ])
    _, info, tensors = read_export(out)
    assert info['model'] == 'orig'
    for name, value in run['model'].generator.state_dict().items():
        assert torch.equal(tensors[name], value), name


def test_load_generator_matches_ema_without_unpickling(run, monkeypatch):

    def no_pickle(*args, **kwargs):
        raise AssertionError('unpickled while loading an export')

    for mod, name in ((torch, 'load'), (pickle, 'load'), (pickle, 'loads')):
        monkeypatch.setattr(mod, name, no_pickle)
    generator = load_generator(run['export'])
    ema = run['model'].generator_ema.module.eval()
    assert type(generator) is type(ema) and not generator.training
    noise = torch.randn(3, ema.noise_size)
    got, want = scales_of(generator, noise), scales_of(ema, noise)
    assert len(got) == len(want) == 4
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def test_sample_from_checkpoint_and_export_gives_the_same_pixels(
        run, tmp_path):
    seeds = ['--seeds', '3', '1', '4', '7']
    grid, = sample_tool.main(
        [run['export'], *seeds, '--out',
         str(tmp_path / 'e')])
    ckpt_cfg = str(run['ckpt'].parent / f'{run["ckpt"].parent.name}.py')
    grid_ckpt, = sample_tool.main(
        [ckpt_cfg,
         str(run['ckpt']), *seeds, '--out',
         str(tmp_path / 'c')])
    singles = sample_tool.main(
        [run['export'], *seeds, '--individual', '--out',
         str(tmp_path / 'e')])
    singles_ckpt = sample_tool.main(
        [ckpt_cfg, str(run['ckpt']), *seeds, '--individual'])
    assert Path(singles_ckpt[0]).parent.name == 'iter_2_ema_samples'
    assert [Path(p).name for p in singles] == [
        'seed0003.png', 'seed0001.png', 'seed0004.png', 'seed0007.png'
    ]

    sheet = read_png(grid)
    assert sheet.shape == (2 * 34 + 2, 2 * 34 + 2)  # 2x2 grey cells, 2 px pad
    assert np.array_equal(sheet, read_png(grid_ckpt))
    images = [read_png(p) for p in singles]
    for i, (image, other) in enumerate(zip(images, singles_ckpt)):
        assert image.shape == (32, 32)
        assert np.array_equal(image, read_png(other))
        y, x = 2 + 34 * (i // 2), 2 + 34 * (i % 2)
        assert np.array_equal(sheet[y:y + 32, x:x + 32], image)
    assert not np.array_equal(images[0], images[1])

    # the PNG is the generator's output mapped from [-1, 1] to [0, 255]
    generator = load_generator(run['export'])
    noise = torch.randn(
        1, generator.noise_size, generator=torch.Generator().manual_seed(3))
    want = scales_of(generator, noise)[-1][0, 0]
    assert np.array_equal(images[0], ((want.clamp(-1, 1) + 1) *
                                      127.5).round().byte().numpy())


def test_all_scales_sheet_and_seeds_reproduce(run, tmp_path):
    grid, = sample_tool.main([
        run['export'], '--num', '3', '--seed', '5', '--all-scales', '--out',
        str(tmp_path)
    ])
    assert Path(grid).name == 'grid_all_scales.png'
    sheet = read_png(grid)
    assert sheet.shape == (3 * 34 + 2, 4 * 34 + 2)  # seeds x scales (4..32)
    rows = sample_tool.main([
        run['export'], '--seeds', '6', '--all-scales', '--individual', '--out',
        str(tmp_path)
    ])
    row = read_png(rows[0])
    assert row.shape == (34 + 2, 4 * 34 + 2)
    assert np.array_equal(row, sheet[34:70])  # seed 6 is the 2nd row
    # 4x4 column upsampled: constant 8x8 blocks; the 32 px column differs
    coarse = row[2:34, 2:34]
    assert np.array_equal(coarse,
                          np.kron(coarse[::8, ::8], np.ones((8, 8), np.uint8)))
    assert not np.array_equal(coarse, row[2:34, 104:136])

    _, again = sample_tool.main([
        run['export'], '--seeds', '9', '6', '--all-scales', '--individual',
        '--out',
        str(tmp_path / 'again')
    ])
    assert Path(again).name == 'seed0006_all_scales.png'
    assert np.array_equal(read_png(again), row)


def test_truncation(run, tmp_path):
    args = [
        run['export'], '--seeds', '0', '1', '--individual', '--out',
        str(tmp_path)
    ]
    if 'Style' not in type(run['model'].generator).__name__:
        with pytest.raises(
                SystemExit,
                match='--truncation needs a generator with '
                'the truncation trick.*drop --truncation'):
            sample_tool.main([*args, '--truncation', '0.5'])
        return
    a, b = sample_tool.main([*args, '--truncation', '0'])
    assert np.array_equal(read_png(a), read_png(b))  # every w is w_avg
    a, b = sample_tool.main([*args, '--truncation', '0.7'])
    assert not np.array_equal(read_png(a), read_png(b))
    with pytest.raises(SystemExit, match=r'must be in \[0, 1\]'):
        sample_tool.main([*args, '--truncation', '1.5'])


def test_rgb_export_samples_rgb(tmp_path):
    cfg = dict(type='MSGProGANGenerator', out_scale=8, img_channels=3, **TINY)
    generator = MODELS.build(cfg)
    path = str(tmp_path / 'rgb.safetensors')
    save_generator(generator, cfg, path)
    grid, = sample_tool.main([path, '--num', '2', '--out', str(tmp_path)])
    single, = sample_tool.main(
        [path, '--seeds', '1', '--individual', '--out',
         str(tmp_path)])
    assert read_png(grid).shape == (8 + 4, 2 * 10 + 2, 3)
    image = read_png(single)
    assert image.shape == (8, 8, 3)
    assert np.array_equal(read_png(grid)[2:10, 12:20], image)


def test_clear_errors(tmp_path):
    cfg = dict(type='MSGProGANGenerator', out_scale=8, img_channels=1, **TINY)
    generator = MODELS.build(cfg)
    plain = tmp_path / 'plain.safetensors'
    save_file({'w': torch.zeros(2)}, str(plain))
    with pytest.raises(
            ExportError, match='no generator config in its metadata'):
        load_generator(str(plain))
    text = tmp_path / 'text.safetensors'
    text.write_text('not tensors')
    with pytest.raises(ExportError, match='is not a safetensors file'):
        load_generator(str(text))
    with pytest.raises(ExportError, match='config builds .* pass the config'):
        save_generator(generator, dict(cfg, type='MSGStyleGenerator'),
                       str(tmp_path / 'x.safetensors'))

    foreign = tmp_path / 'foreign.safetensors'
    save_generator(generator, cfg, str(foreign))
    _, _, tensors = read_export(str(foreign))
    meta = dict(
        format='pt',
        msg_gan_export='1',
        generator_config=json.dumps(dict(cfg, type='NoSuchGenerator')))
    save_file(tensors, str(foreign), metadata=meta)
    with pytest.raises(
            ExportError, match="'NoSuchGenerator' .* not registered"):
        load_generator(str(foreign))
    meta['generator_config'] = json.dumps(dict(cfg, out_scale='big'))
    save_file(tensors, str(foreign), metadata=meta)
    with pytest.raises(ExportError, match='Cannot build the generator'):
        load_generator(str(foreign))
    meta['generator_config'] = json.dumps(dict(cfg, max_channels=16))
    save_file(tensors, str(foreign), metadata=meta)
    with pytest.raises(ExportError, match='do not fit the generator config'):
        load_generator(str(foreign))
    with pytest.raises(SystemExit, match='An export holds one generator'):
        sample_tool.main([str(plain), '--model', 'orig'])
    with pytest.raises(SystemExit, match='Give CONFIG CKPT'):
        sample_tool.main([PROGAN])


def test_checkpoint_errors(tmp_path):
    model, ckpt = make_run(tmp_path, PROGAN)
    noema = tmp_path / 'noema.pth'
    save_checkpoint(
        dict(
            state_dict={
                k: v
                for k, v in model.state_dict().items()
                if not k.startswith('generator_ema')
            }), str(noema))
    with pytest.raises(SystemExit, match='Found 0 configs next to .*--config'):
        export_tool.main([str(noema)])
    with pytest.raises(
            SystemExit, match='without ema_config: use --model orig'):
        export_tool.main([str(noema), '--config', str(ROOT / PROGAN)])
    # the repo config has the demo widths, not the run's tiny ones
    with pytest.raises(
            SystemExit, match='do not fit .* config the checkpoint'):
        sample_tool.main([str(ROOT / PROGAN), str(ckpt)])


def cli(*args):
    proc = subprocess.run([sys.executable, *map(str, args)],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize('config', [PROGAN, STYLEGAN])
def test_command_lines_export_and_sample(tmp_path, config):
    """Fresh processes: no registry scope is set up by the test session."""
    _, ckpt = make_run(tmp_path, config)
    out = tmp_path / 'shared.safetensors'
    assert f'to {out}' in cli('tools/export.py', ckpt, '--out', out)
    seeds = ['--seeds', '0', '2', '--individual']
    cli('tools/sample.py', out, *seeds, '--out', tmp_path / 'e')
    paths = sample_tool.main([
        str(ckpt.parent / f'{Path(config).stem}.py'),
        str(ckpt), *seeds, '--out',
        str(tmp_path / 'c')
    ])
    for path in paths:
        image = read_png(tmp_path / 'e' / Path(path).name)
        assert image.shape == (32, 32)
        assert np.array_equal(image, read_png(path))
