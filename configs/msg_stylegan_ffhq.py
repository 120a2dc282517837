# MSG-StyleGAN on FFHQ 1024x1024 (9 scales): NS + R1, phi_cat_lin, RMSprop 0.003.
#   tools/dist_train.sh configs/msg_stylegan_ffhq.py 4
_base_ = [
    './_base_/models/msg_stylegan.py', './_base_/datasets/ffhq.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 4 x 4 = 16 images per step
batch_size, world_size = 4, 4
model = dict(
    generator=dict(out_size=1024),
    discriminator=dict(in_scale=1024),
    # G EMA with a 10 kimg half-life at the global batch
    ema_config=dict(momentum=1 - 0.5**(batch_size * world_size / 10000)))
train_dataloader = dict(batch_size=batch_size)
# paper Table 2: MSG-StyleGAN, 9.6M real images
train_cfg = dict(max_iters=9_600_000 // (batch_size * world_size))
