# MSG-ProGAN demo on the embedded MNIST digits: 32x32 grey, 4 scales, small widths.
# Trains on CPU in minutes: tools/train.py configs/msg_progan_mnist.py
_base_ = [
    './_base_/models/msg_progan.py', './_base_/datasets/embedded_mnist.py',
    './_base_/msg_runtime.py'
]

widths = dict(channel_base=2048, max_channels=64)  # 64, 64, 64, 64 at 4..32
model = dict(
    generator=dict(out_scale=32, img_channels=1, **widths),
    discriminator=dict(in_scale=32, img_channels=1, **widths))

train_cfg = dict(max_iters=3000, val_interval=10**9)
default_hooks = dict(checkpoint=dict(interval=500))
custom_hooks = [dict(type='MultiScaleSampleHook', interval=250, num_samples=8)]
val_cfg = val_evaluator = val_dataloader = None
test_cfg = test_evaluator = test_dataloader = None
