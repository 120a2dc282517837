# MSG-ProGAN on Oxford Flowers 256x256 (7 scales): WGAN-GP, phi_simple, RMSprop 0.003.
#   tools/dist_train.sh configs/msg_progan_oxford_flowers.py 4
_base_ = [
    './_base_/models/msg_progan.py', './_base_/datasets/oxford_flowers.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 4 x 8 = 32 images per step
batch_size, world_size = 8, 4
model = dict(
    generator=dict(out_scale=256), discriminator=dict(in_scale=256))
train_dataloader = dict(batch_size=batch_size)
# paper Table 1: MSG-ProGAN, 1.7M real images
train_cfg = dict(max_iters=1_700_000 // (batch_size * world_size))
