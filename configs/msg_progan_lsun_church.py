# MSG-ProGAN on LSUN Church 256x256 (7 scales): WGAN-GP, phi_simple, RMSprop 0.003.
#   tools/dist_train.sh configs/msg_progan_lsun_church.py 4
_base_ = [
    './_base_/models/msg_progan.py', './_base_/datasets/lsun_church.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 4 x 8 = 32 images per step
batch_size, world_size = 8, 4
model = dict(
    generator=dict(out_scale=256), discriminator=dict(in_scale=256))
train_dataloader = dict(batch_size=batch_size)
# the paper's MSG-ProGAN count is not in our reference material: the
# MSG-StyleGAN run's 24M
train_cfg = dict(max_iters=24_000_000 // (batch_size * world_size))
