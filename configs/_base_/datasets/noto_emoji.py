# The 3,926 colour emoji of Noto Color Emoji (Debian's fonts-noto-color-emoji, fetched
# by tools/install.sh): RGB on white, 64x64. The decoded array is cached on first use.
noto_emoji_dataset = dict(
    type='NotoEmojiDataset', img_size=64, pipeline=[dict(type='PackInputs')])

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=noto_emoji_dataset)

# Real images for the metrics: the same emoji (there is no test split) in a fixed
# shuffled order, so the first N images a metric reads are a varied sample rather
# than the font's keycaps and runs of skin-tone variants.
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(noto_emoji_dataset, test_mode=True, shuffle_order=True))
test_dataloader = val_dataloader
