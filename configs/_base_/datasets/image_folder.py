# A folder of square images at the model's resolution (searched recursively), read
# as RGB, with mirror augmentation for training. The real images for FID are the
# same folder, unflipped. Dataset bases set data_root and the batch per process.
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', channel_order='rgb'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs')
]
real_pipeline = [
    dict(type='LoadImageFromFile', key='gt', channel_order='rgb'),
    dict(type='PackInputs')
]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ImageFolderDataset',
        data_root=None,
        recursive=True,
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageFolderDataset',
        data_root=None,
        recursive=True,
        test_mode=True,
        pipeline=real_pipeline))
test_dataloader = val_dataloader
