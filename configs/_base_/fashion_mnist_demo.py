# What both Fashion-MNIST demos share: the Debian Fashion-MNIST files, the CPU demo
# schedule, the sliced Wasserstein distance and offline Inception metrics (as
# mnist_demo.py: small sample counts, compare FIDs only at equal N).
_base_ = ['./datasets/fashion_mnist.py', './cpu_demo.py']

metrics = [
    dict(type='SWD', fake_nums=1024, image_shape=(1, 32, 32), sample_model='ema'),
    dict(type='OfflineKID', prefix='Inception-64', fake_nums=64,
         real_nums=64, subset_size=32, num_subsets=50, sample_model='ema'),
    dict(type='MultiScaleFID', prefix='Inception-64', fake_nums=64,
         real_nums=64, sample_model='ema'),
]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)
