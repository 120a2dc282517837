# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import cv2
from runner_helpers import train_in_runner

TINY = dict(channel_base=64, max_channels=8)


def test_sheet_goes_to_local_files_and_tensorboard(tmp_path):
    runner = train_in_runner(
        None, tmp_path, iters=2,
        **{'model.generator': TINY, 'model.discriminator': TINY},
        custom_hooks=[dict(type='MultiScaleSampleHook', interval=2,
                           num_samples=3)],
        visualizer=dict(vis_backends=[
            dict(type='VisBackend'), dict(type='TensorboardVisBackend')]))
    vis_dir = tmp_path / runner.timestamp / 'vis_data'
    sheet = cv2.imread(str(vis_dir / 'vis_image' / 'multi_scale_2.png'))
    assert sheet.shape == (3 * 34 + 2, 4 * 34 + 2, 3)  # 3 rows, 4 scales
    events = list(vis_dir.rglob('events.out.tfevents.*'))
    assert events and events[0].stat().st_size > 1000  # the image is in it
