# A folder of square RGB images at the model's resolution, with mirror augmentation.
# Leaf configs set data_root and the image size.
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', channel_order='rgb'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs')
]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ImageFolderDataset', data_root=None, pipeline=train_pipeline))
