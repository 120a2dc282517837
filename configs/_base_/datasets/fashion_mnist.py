# Fashion-MNIST from Debian's dataset-fashion-mnist (fetched by tools/install.sh, read
# offline): 28x28 grey clothing centred in 32x32. Trains on the 60,000 train images.
fashion_mnist_dataset = dict(
    type='FashionMNISTDataset',
    split='train',
    img_size=32,
    pipeline=[dict(type='PackInputs')])

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=fashion_mnist_dataset)

# Real images for the metrics: the 10,000 test images, classes interleaved, so the
# first N images a metric reads are balanced over the ten classes.
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        fashion_mnist_dataset,
        split='test',
        test_mode=True,
        interleave_classes=True))
test_dataloader = val_dataloader
