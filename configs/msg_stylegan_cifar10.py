# MSG-StyleGAN on CIFAR-10 32x32 (4 scales): NS + R1, phi_cat_lin, RMSprop 0.003.
#   tools/train.py configs/msg_stylegan_cifar10.py
_base_ = [
    './_base_/models/msg_stylegan.py', './_base_/datasets/cifar10.py',
    './_base_/paper_schedule.py'
]

# batch per process, as in mmagic: 1 x 64 = 64 images per step
batch_size, world_size = 64, 1
model = dict(
    generator=dict(out_size=32),
    discriminator=dict(in_scale=32),
    # G EMA with a 10 kimg half-life at the global batch
    ema_config=dict(momentum=1 - 0.5**(batch_size * world_size / 10000)))
train_dataloader = dict(batch_size=batch_size)
# the CIFAR-10 budget of Table 3 (no MSG-StyleGAN CIFAR-10 run is reported)
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
