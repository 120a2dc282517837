# MSG-ProGAN on CelebA-HQ 1024x1024 (9 scales): WGAN-GP, phi_simple, RMSprop 0.003.
#   tools/dist_train.sh configs/msg_progan_celebahq.py 4
_base_ = [
    './_base_/models/msg_progan.py', './_base_/datasets/celebahq.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 4 x 4 = 16 images per step
batch_size, world_size = 4, 4
model = dict(
    generator=dict(out_scale=1024), discriminator=dict(in_scale=1024))
train_dataloader = dict(batch_size=batch_size)
# the paper's count is not in our reference material: the FFHQ budget
# (same resolution)
train_cfg = dict(max_iters=6_000_000 // (batch_size * world_size))
