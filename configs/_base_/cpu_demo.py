# The CPU demo schedule every small-data demo shares: the paper's optimiser, 2,000
# iterations, evaluation at the end, all-scales sample sheets and the
# training-stability curve. Demo bases add their data and metrics.
_base_ = ['./msg_runtime.py']

train_cfg = dict(max_iters=2000, val_interval=2000)  # evaluate at the end
default_hooks = dict(checkpoint=dict(interval=500))
custom_hooks = [
    dict(type='MultiScaleSampleHook', interval=250, num_samples=8),
    # paper Fig. 6: MSE between consecutive renders of 36 fixed latents per scale
    dict(type='TrainingStabilityHook', interval=250),
]
