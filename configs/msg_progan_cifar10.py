# MSG-ProGAN on CIFAR-10 32x32 (4 scales): WGAN-GP, phi_simple, RMSprop 0.003.
#   tools/train.py configs/msg_progan_cifar10.py
_base_ = [
    './_base_/models/msg_progan.py', './_base_/datasets/cifar10.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 1 x 64 = 64 images per step
batch_size, world_size = 64, 1
model = dict(
    generator=dict(out_scale=32), discriminator=dict(in_scale=32))
train_dataloader = dict(batch_size=batch_size)
# paper Table 3: 12M real images per CIFAR-10 run
train_cfg = dict(max_iters=12_000_000 // (batch_size * world_size))
# Table 3 reports the Inception Score: OfflineIS needs an Inception with logits
# (inception_path or MSG_INCEPTION_PATH) and is skipped, with a warning, without.
metrics = [
    dict(type='OfflineFID', prefix='FID-50k', fake_nums=50000, real_nums=-1,
         sample_model='ema'),
    dict(type='OfflineIS', prefix='IS-50k', fake_nums=50000, sample_model='ema'),
]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)
