# The paper's fixed recipe on a real dataset: RMSprop 0.003 for G and D (from
# msg_runtime.py), FID of the EMA generator every 5,000 iterations, the best
# checkpoint kept by FID, all-scales sample sheets. Leaf configs set the resolution,
# the batch per process and max_iters from the paper's number of real images.
_base_ = ['./msg_runtime.py']

train_cfg = dict(val_interval=5000)
# FID50k against every image of the training folder (real statistics are
# computed once and cached), on the offline Inception weights.
metrics = [
    dict(type='OfflineFID', prefix='FID-50k', fake_nums=50000, real_nums=-1,
         sample_model='ema'),
]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)

default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(
        interval=5000, max_keep_ckpts=3, save_best='FID-50k/fid',
        rule='less'))
custom_hooks = [dict(type='MultiScaleSampleHook', interval=1000, num_samples=8)]
