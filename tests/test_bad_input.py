# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Wrong input fails fast with one clear line; bad data and numbers never kill
or corrupt a run.

Checks tested elsewhere (not repeated here): a resolution that is not a power of
two (test_networks, test_msg_stylegan), G/D scale lists and channels
(test_msg_gan), batch vs MinibatchStdDev group inside the discriminator
(test_networks), a missing or empty image folder (test_datasets), data that
does not fit the model at an iteration (test_msg_gan, the runtime guard).
"""
import copy
import json
import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmagic.registry import DATASETS, MODELS
from mmengine import MessageHub
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu
from torch.utils.data import DataLoader

from msg_plugin import image_folder_dataset
from msg_plugin.cli import load_run_config
from msg_plugin.exported_generator import ExportError, load_checkpoint_generator
from msg_plugin.input_check_hook import (InputCheckHook, check_batch_size,
                                         weights_mismatch)
from msg_plugin.msg_gan import MSGGAN
from runner_helpers import train_in_runner
from test_msg_gan import batch, model_cfg, optimizers
from test_tools import CONFIG, ROOT, TINY, run

SMALL = {
    f'model.{net}.{key}': value
    for net in ('generator', 'discriminator')
    for key, value in (('channel_base', 64), ('max_channels', 8))
}
GREY = dict(type='LoadImageFromFile', key='gt', color_type='grayscale',
            channel_order='rgb')
COLOUR = dict(type='LoadImageFromFile', key='gt', color_type='color',
              channel_order='rgb')
PACK = dict(type='PackInputs')


def write_images(folder, n=3, size=(32, 32), channels=3, start=0):
    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    for i in range(start, start + n):
        img = np.full((h, w, channels), 40 * i % 255, np.uint8)
        cv2.circle(img, (w // 2, h // 2), 3 + i, (255, ) * channels, -1)
        assert cv2.imwrite(str(folder / f'img_{i}.png'), img)


def folder_dataset(folder, pipeline=(COLOUR, PACK), **kwargs):
    return dict(type='ImageFolderDataset', data_root=str(folder),
                pipeline=list(pipeline), **kwargs)


def replace_dataset(folder, pipeline=(COLOUR, PACK)):
    """A config override putting an image folder in place of the digits."""
    return {'train_dataloader.dataset': dict(
        folder_dataset(folder, pipeline), _delete_=True)}


@pytest.fixture
def no_train_step(monkeypatch):
    """Fail loudly if training reaches its first iteration."""

    def train_step(self, *args, **kwargs):
        raise AssertionError('the check ran only at the first iteration')

    monkeypatch.setattr(MSGGAN, 'train_step', train_step)


# 1. data vs model, before training starts ---------------------------------

@pytest.mark.parametrize('overrides,expected', [
    # RGB images into the grey MNIST model
    ({'train_dataloader.dataset': 'rgb'},
     ["3 channels (RGB)", 'img_channels=1 (grey)',
      "LoadImageFromFile(color_type='grayscale')", 'set img_channels=3']),
    # grey digits into an RGB model
    ({'model.generator.img_channels': 3, 'model.discriminator.img_channels': 3},
     ['1 channels (grey)', 'img_channels=3 (RGB)',
      "LoadImageFromFile(color_type='color')", 'set img_channels=1']),
    # 16x16 digits into the 32x32 model
    ({'train_dataloader.dataset.img_size': 16},
     ['16x16', 'works at 32x32', 'images_to_square.py', 'Resize transform']),
    ({'train_dataloader.batch_size': 6},
     ['batch_size=6', 'group size 4', 'multiple of 4']),
])
def test_data_model_mismatch_fails_before_the_first_iteration(
        tmp_path, no_train_step, overrides, expected):
    if overrides.get('train_dataloader.dataset') == 'rgb':
        write_images(tmp_path / 'rgb')
        overrides = replace_dataset(tmp_path / 'rgb')
    with pytest.raises(ValueError) as err:
        train_in_runner(None, tmp_path / 'work', **SMALL, **overrides)
    message = str(err.value)
    assert '\n' not in message
    for part in expected:
        assert part in message, message


def test_input_check_reads_wrapped_models_and_keeps_random_states():
    model = MODELS.build(model_cfg(channels=3))  # 16x16 RGB
    grey = DATASETS.build(
        dict(type='EmbeddedMNISTDataset', img_size=16, pipeline=[PACK]))
    runner = SimpleNamespace(
        model=torch.nn.DataParallel(model),  # a registered model wrapper
        train_dataloader=DataLoader(grey, batch_size=4,
                                    collate_fn=pseudo_collate))
    state = torch.get_rng_state(), np.random.get_state()[1].copy()
    with pytest.raises(ValueError, match=r'1 channels .* img_channels=3'):
        InputCheckHook().before_train(runner)
    assert torch.equal(torch.get_rng_state(), state[0])
    assert np.array_equal(np.random.get_state()[1], state[1])
    InputCheckHook(check_data=False).before_train(runner)


def test_last_batch_of_an_epoch_is_checked_too():
    check_batch_size(8, 4, last=4)
    check_batch_size(8, 4, last=3)  # at most one group: fine
    with pytest.raises(ValueError, match='last batch .* 6 images.*drop_last'):
        check_batch_size(8, 4, last=6)


# 2. mixed image sizes --------------------------------------------------------

def test_mixed_image_sizes_are_one_error_listing_the_odd_files(tmp_path):
    write_images(tmp_path, n=4)
    write_images(tmp_path, n=2, size=(48, 40), start=4)
    with pytest.raises(ValueError) as err:
        DATASETS.build(folder_dataset(tmp_path))
    message = str(err.value)
    assert '\n' not in message and str(tmp_path) in message
    assert '4 are 32x32' in message and '2 are not' in message
    assert 'img_4.png (40x48)' in message and 'img_5.png (40x48)' in message
    assert 'images_to_square.py' in message
    assert 'Resize transform' in message and 'check_sizes=False' in message
    # the documented alternative: resize in the pipeline, skip the check
    resize = dict(type='Resize', keys=['gt'], scale=(32, 32), keep_ratio=False)
    ds = DATASETS.build(
        folder_dataset(tmp_path, (COLOUR, resize, PACK), check_sizes=False))
    assert {ds[i]['data_samples'].gt_img.shape for i in range(6)} == {
        (3, 32, 32)}


# 3. corrupt image files --------------------------------------------------------

@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(image_folder_dataset, 'print_log',
                        lambda msg, **kwargs: lines.append(msg))
    return lines


def corrupt(folder):
    (folder / 'garbage.png').write_bytes(b'not an image at all')
    good = (folder / 'img_0.png').read_bytes()
    (folder / 'truncated.png').write_bytes(good[:len(good) // 2])


def test_corrupt_files_are_logged_and_skipped(tmp_path, logged):
    write_images(tmp_path, n=2)
    corrupt(tmp_path)
    ds = DATASETS.build(folder_dataset(tmp_path))
    assert len(ds) == 4
    # the header check already names the file Pillow cannot read
    assert 'garbage.png' in logged[0] and 'will be skipped' in logged[0]
    paths = {ds[i % 4]['data_samples'].gt_path for i in range(40)}
    assert {Path(p).name for p in paths} == {'img_0.png', 'img_1.png'}
    skipped = ' '.join(logged[1:])
    assert 'truncated.png' in skipped and 'garbage.png' in skipped
    assert len(logged) == 3  # once per file
    assert not any('\n' in line for line in logged)
    # evaluation (test_mode) takes the next readable image instead
    ds = DATASETS.build(folder_dataset(tmp_path, test_mode=True))
    names = [Path(ds.get_data_info(i)['gt_path']).name for i in range(4)]
    good = [n.startswith('img_') for n in names]
    for i in range(4):
        stand_in = next(names[j % 4] for j in range(i, i + 4) if good[j % 4])
        assert Path(ds[i]['data_samples'].gt_path).name == stand_in


def test_a_pipeline_error_on_a_good_file_is_not_swallowed(tmp_path):
    write_images(tmp_path, n=2)
    def bug(results):
        raise ZeroDivisionError('a bug in a transform')

    ds = DATASETS.build(folder_dataset(tmp_path, (COLOUR, bug, PACK)))
    with pytest.raises(ZeroDivisionError):
        ds[0]


@pytest.mark.parametrize('check_sizes', [True, False])
def test_a_folder_without_a_readable_image_is_one_error(tmp_path, logged,
                                                        check_sizes):
    (tmp_path / 'a.png').write_bytes(b'broken')
    (tmp_path / 'b.jpg').write_bytes(b'')
    with pytest.raises(ValueError) as err:
        ds = DATASETS.build(folder_dataset(tmp_path, check_sizes=check_sizes))
        ds[0]
    message = str(err.value)
    assert str(tmp_path) in message and 'can be read' in message
    assert 'corrupt or not images' in message and '\n' not in message


def test_training_goes_on_over_corrupt_files(tmp_path):
    write_images(tmp_path / 'data', n=4, channels=1)
    corrupt(tmp_path / 'data')
    runner = train_in_runner(
        None, tmp_path / 'work', iters=2, **SMALL,
        **replace_dataset(tmp_path / 'data', (GREY, PACK)))
    assert runner.iter == 2


# 4. checkpoints of another architecture or resolution ----------------------------

@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    """A checkpoint of the tiny MNIST model, and its config."""
    cfg = Config.fromfile(str(ROOT / CONFIG))
    for net in ('generator', 'discriminator'):
        cfg.model[net].update(channel_base=64, max_channels=8)
    model = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('run') / 'iter_1.pth'
    save_checkpoint(
        dict(meta=dict(epoch=0, iter=1),
             state_dict=weights_to_cpu(model.state_dict())), str(path))
    return path, cfg


def test_weights_mismatch_names_the_parameter_and_both_shapes():
    model = dict(a=torch.zeros(2, 3), b=torch.zeros(4))
    assert weights_mismatch(model, dict(a=torch.ones(2, 3), b=torch.ones(4)))\
        is None
    assert weights_mismatch(model, dict(a=torch.ones(3, 3), c=1)) == (
        'a is (3, 3) in the checkpoint but (2, 3) in the model '
        '(and 2 more differences)')
    assert weights_mismatch(model, dict(a=torch.ones(2, 3))) == (
        'the model has b (4,) but the checkpoint has not')
    assert weights_mismatch(model, dict(a=torch.ones(2, 3)),
                            strict_keys=False) is None


@pytest.mark.parametrize('resume', [False, True])
def test_checkpoint_of_another_model_is_one_error_before_loading(
        tmp_path, tiny_checkpoint, no_train_step, resume):
    ckpt, _ = tiny_checkpoint
    wider = dict(SMALL, **{'model.generator.max_channels': 16,
                           'model.discriminator.max_channels': 16})
    with pytest.raises(ValueError) as err:
        train_in_runner(None, tmp_path, load_from=str(ckpt), resume=resume,
                        **wider)
    message = str(err.value)
    assert '\n' not in message and 'does not fit the model' in message
    assert re.search(r'generator\.\S+ is \([^)]*8[^)]*\) in the checkpoint '
                     r'but \([^)]*16[^)]*\) in the model', message), message
    assert 'config it was trained with' in message
    # a 64x64 model: other blocks, so missing parameters
    bigger = dict(SMALL, **{'model.generator.out_scale': 64,
                            'model.discriminator.in_scale': 64})
    with pytest.raises(ValueError, match='does not fit the model: .*'):
        train_in_runner(None, tmp_path, load_from=str(ckpt), **bigger)


def test_checkpoint_of_this_model_loads(tmp_path, tiny_checkpoint):
    ckpt, _ = tiny_checkpoint
    runner = train_in_runner(None, tmp_path, iters=1, load_from=str(ckpt),
                             **SMALL)
    assert runner.iter == 1


def test_sampling_a_checkpoint_of_another_model_names_the_shapes(
        tiny_checkpoint):
    ckpt, cfg = tiny_checkpoint
    gen = cfg.model.generator.to_dict()
    load_checkpoint_generator(str(ckpt), gen)  # fits
    with pytest.raises(ExportError) as err:
        load_checkpoint_generator(str(ckpt), dict(gen, max_channels=16))
    message = str(err.value)
    assert 'do not fit the generator config' in message and '\n' not in message
    assert re.search(r'\S+ is \([^)]*8[^)]*\) in the checkpoint but '
                     r'\([^)]*16[^)]*\) in the model', message), message


# 5. custom_imports that cannot be imported --------------------------------------

def config_importing(tmp_path, module):
    path = tmp_path / 'cfg.py'
    path.write_text(f'custom_imports = dict(imports=[{module!r}], '
                    'allow_failed_imports=False)\n')
    return SimpleNamespace(config=str(path), launcher='none', local_rank=0,
                           cfg_options=None, work_dir=str(tmp_path))


def test_msg_plugin_not_installed_is_one_line(tmp_path, monkeypatch):
    args = config_importing(tmp_path, 'msg_plugin')
    monkeypatch.setitem(sys.modules, 'msg_plugin', None)  # hidden
    with pytest.raises(SystemExit) as err:
        load_run_config(args)
    message = str(err.value.code)
    assert '\n' not in message and args.config in message
    assert 'msg_plugin is not installed in this Python' in message
    assert sys.executable in message
    assert 'tools/install.sh' in message and 'pip install -e .' in message


def test_other_missing_custom_import_is_one_line(tmp_path):
    args = config_importing(tmp_path, 'no_such_plugin_xyz')
    with pytest.raises(SystemExit) as err:
        load_run_config(args)
    message = str(err.value.code)
    assert '\n' not in message
    assert "cannot import no_such_plugin_xyz (no module named " in message
    assert 'fix custom_imports in the config' in message


# 6. NaN/Inf losses and gradients --------------------------------------------------

def nan_term(model, term='loss_gp', when=lambda: True):
    """Make one discriminator loss term NaN (while ``when()``)."""
    disc_loss = model.gan_loss.disc_loss

    def patched(*args, **kwargs):
        losses = disc_loss(*args, **kwargs)
        if when():
            losses[term] = losses[term] * math.nan
        return losses

    model.gan_loss.disc_loss = patched


def states(model):
    return copy.deepcopy({
        k: v for k, v in model.state_dict().items()
        if k.startswith(('generator.', 'discriminator.'))})


def assert_same(model, old):
    new = states(model)
    assert all(torch.equal(new[k], v) for k, v in old.items())


def test_nan_loss_stops_before_the_step_naming_term_and_iteration():
    model = MODELS.build(model_cfg())
    nan_term(model)
    optim = optimizers(model)
    before = states(model)
    MessageHub.get_current_instance().update_info('iter', 6)
    with pytest.raises(RuntimeError) as err:
        model.train_step(batch(), optim)
    message = str(err.value)
    assert message.startswith('MSGGAN: loss_gp is nan at iteration 7 ')
    assert 'discriminator update' in message and '\n' not in message
    assert "nonfinite='skip'" in message
    assert_same(model, before)
    assert all(s == {} for s in optim['discriminator'].optimizer.state.values())


def test_nan_gradient_is_named_by_its_parameter():
    model = MODELS.build(model_cfg())
    param = model.discriminator.from_rgb.conv.weight_orig
    param.register_hook(lambda grad: grad * math.inf)
    MessageHub.get_current_instance().update_info('iter', 0)
    with pytest.raises(RuntimeError,
                       match=r'the gradient of discriminator\.from_rgb\.conv'
                       r'\.weight_orig is (nan|inf) at iteration 1'):
        model.train_step(batch(), optimizers(model))


def test_skip_drops_the_update_counts_it_and_trains_on():
    model = MODELS.build(dict(model_cfg(), nonfinite='skip'))
    hub = MessageHub.get_current_instance()
    hub.update_info('nonfinite_skips', 0)
    poisoned = [True]
    nan_term(model, 'loss_drift', lambda: poisoned[0])
    optim = optimizers(model)
    disc = copy.deepcopy(model.discriminator.state_dict())
    hub.update_info('iter', 0)
    log = model.train_step(batch(), optim)
    assert log['nonfinite_skips'] == 1 and math.isnan(log['loss_drift'])
    assert all(torch.equal(v, model.discriminator.state_dict()[k])
               for k, v in disc.items())  # the D update was dropped
    assert 'loss_gen' in log  # the generator trained on
    poisoned[0] = False
    hub.update_info('iter', 1)
    log = model.train_step(batch(), optim)
    assert log['nonfinite_skips'] == 1
    assert not torch.equal(
        disc['from_rgb.conv.weight_orig'],
        model.discriminator.state_dict()['from_rgb.conv.weight_orig'])
    with pytest.raises(ValueError, match="'stop' .* or 'skip'"):
        MODELS.build(dict(model_cfg(), nonfinite='ignore'))


def test_gradient_accumulation_checks_at_the_update():
    model = MODELS.build(dict(model_cfg(), nonfinite='skip'))
    hub = MessageHub.get_current_instance()
    hub.update_info('nonfinite_skips', 0)
    calls = [0]

    def first_call():
        calls[0] += 1
        return calls[0] == 1

    nan_term(model, 'loss_gp', first_call)
    wrapper = OptimWrapper(
        torch.optim.Adam(model.discriminator.parameters(), lr=1e-3),
        accumulative_counts=2)
    before = copy.deepcopy(model.discriminator.state_dict())
    data = model.data_preprocessor(batch(), True)
    model.train_discriminator(**data, optimizer_wrapper=wrapper)  # poisons
    assert hub.get_info('nonfinite_skips') == 0  # no update yet
    log = model.train_discriminator(**data, optimizer_wrapper=wrapper)
    assert hub.get_info('nonfinite_skips') == 1
    assert log['nonfinite_skips'] == 1
    assert all(torch.equal(v, model.discriminator.state_dict()[k])
               for k, v in before.items())
    assert all(p.grad is None for p in model.discriminator.parameters())


def test_runner_stops_without_a_checkpoint_of_bad_weights(tmp_path,
                                                          monkeypatch):
    build = MSGGAN.__init__

    def nan_from_iter_3(self, *args, **kwargs):
        build(self, *args, **kwargs)
        hub = MessageHub.get_current_instance()
        nan_term(self, when=lambda: hub.get_info('iter') >= 2)

    monkeypatch.setattr(MSGGAN, '__init__', nan_from_iter_3)
    ckpt = {'default_hooks.checkpoint.interval': 2}
    with pytest.raises(RuntimeError, match='loss_gp is nan at iteration 3 '):
        train_in_runner(None, tmp_path / 'stop', iters=3, **SMALL, **ckpt)
    # iteration 2 was saved; the failed one (its after_train_iter) never ran
    assert sorted(p.name for p in (tmp_path / 'stop').glob('*.pth')) == [
        'iter_2.pth']
    runner = train_in_runner(None, tmp_path / 'skip', iters=3, **SMALL, **ckpt,
                             **{'model.nonfinite': 'skip'})
    assert runner.iter == 3
    scalars = next((tmp_path / 'skip').glob('*/vis_data/scalars.json'))
    logged = [json.loads(line) for line in scalars.read_text().splitlines()]
    assert [s['nonfinite_skips'] for s in logged] == [0, 0, 1]
    assert runner.message_hub.get_info('nonfinite_skips') == 1


# tools/train.py shows the message -------------------------------------------------

@pytest.mark.slow
def test_train_tool_shows_one_clear_line(tmp_path):
    # 16x16 digits into the 32x32 model: refused before the first iteration
    out = run(sys.executable, 'tools/train.py', CONFIG, '--work-dir',
              tmp_path / 'size', '--cfg-options', 'train_cfg.max_iters=2',
              *TINY, 'train_dataloader.dataset.img_size=16', expect_ok=False)
    assert 'Iter(train)' not in out
    last = out.strip().splitlines()[-1]
    assert last.startswith('ValueError: The training images are 16x16')
    # a NaN from the config: stopped at iteration 1, no checkpoint
    out = run(sys.executable, 'tools/train.py', CONFIG, '--work-dir',
              tmp_path / 'nan', '--cfg-options', 'train_cfg.max_iters=2',
              *TINY, 'model.loss_config.gan_loss.gp_weight=nan',
              expect_ok=False)
    last = out.strip().splitlines()[-1]
    assert last.startswith('RuntimeError: MSGGAN: loss_gp is nan at iteration 1')
    assert not list((tmp_path / 'nan').glob('*.pth'))
    # custom_imports of a module that is not there: one line, no traceback
    cfg = tmp_path / 'missing.py'
    cfg.write_text(f"_base_ = [{str(ROOT / CONFIG)!r}]\n"
                   "custom_imports = dict(imports=['msg_plugin', 'nope_xyz'])\n")
    out = run(sys.executable, 'tools/train.py', cfg, '--work-dir',
              tmp_path / 'missing', expect_ok=False)
    assert 'Traceback' not in out
    assert 'custom_imports cannot import nope_xyz' in out.strip().splitlines()[-1]
