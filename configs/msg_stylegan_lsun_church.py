# MSG-StyleGAN on LSUN Church 256x256 (7 scales): NS + R1, phi_cat_lin, RMSprop 0.003.
#   tools/dist_train.sh configs/msg_stylegan_lsun_church.py 4
_base_ = [
    './_base_/models/msg_stylegan.py', './_base_/datasets/lsun_church.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 4 x 8 = 32 images per step
batch_size, world_size = 8, 4
model = dict(
    generator=dict(out_size=256),
    discriminator=dict(in_scale=256),
    # G EMA with a 10 kimg half-life at the global batch
    ema_config=dict(momentum=1 - 0.5**(batch_size * world_size / 10000)))
train_dataloader = dict(batch_size=batch_size)
# paper Table 2: MSG-StyleGAN, 24M real images
train_cfg = dict(max_iters=24_000_000 // (batch_size * world_size))
