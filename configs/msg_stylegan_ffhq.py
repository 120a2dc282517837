# MSG-StyleGAN on FFHQ 1024x1024 (9 scales) with the paper's settings.
#   tools/dist_train.sh configs/msg_stylegan_ffhq.py 4
# Data: the 70,000 FFHQ images at 1024x1024 (the "images1024x1024" folder of the
# official release; PNGs may sit in sub-folders, they are searched recursively).
# Put or link them at data/ffhq/images1024x1024, or pass
#   --cfg-options train_dataloader.dataset.data_root=/path/to/images1024x1024
# Images must be 1024x1024 RGB; resize other data first.
_base_ = [
    './_base_/models/msg_stylegan.py', './_base_/datasets/image_folder.py',
    './_base_/msg_runtime.py'
]

# 4 processes x 4 images = 16 per step (the reference code's 4-GPU setting).
batch_size, world_size = 4, 4
model = dict(
    generator=dict(out_size=1024),
    discriminator=dict(in_scale=1024),
    ema_config=dict(momentum=1 - 0.5**(batch_size * world_size / 10000)))

train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(data_root='data/ffhq/images1024x1024', recursive=True))

# The paper reports FFHQ MSG-StyleGAN after 9.6M real images.
train_cfg = dict(max_iters=9_600_000 // (batch_size * world_size))
default_hooks = dict(
    logger=dict(interval=100), checkpoint=dict(interval=5000))
custom_hooks = [dict(type='MultiScaleSampleHook', interval=5000, num_samples=8)]
val_cfg = val_evaluator = val_dataloader = None
test_cfg = test_evaluator = test_dataloader = None
