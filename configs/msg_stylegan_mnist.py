# MSG-StyleGAN demo on the embedded MNIST digits: 32x32 grey, 4 scales, small widths.
# Trains on CPU in minutes: tools/train.py configs/msg_stylegan_mnist.py
_base_ = [
    './_base_/models/msg_stylegan.py', './_base_/datasets/embedded_mnist.py',
    './_base_/msg_runtime.py'
]

widths = dict(channel_base=1024, max_channels=32)  # 32 channels at 4..32
model = dict(
    generator=dict(out_size=32, img_channels=1, style_channels=32, **widths),
    discriminator=dict(in_scale=32, img_channels=1, **widths),
    # 10 kimg half-life at batch 16
    ema_config=dict(momentum=1 - 0.5**(16 / 10000)))

train_cfg = dict(max_iters=2000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=500))
custom_hooks = [dict(type='MultiScaleSampleHook', interval=250, num_samples=8)]
# Sliced Wasserstein distance over a Laplacian pyramid (needs no network weights).
metrics = [dict(type='SWD', fake_nums=1024, image_shape=(1, 32, 32),
                sample_model='ema')]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)
