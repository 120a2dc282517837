# FFHQ: the 70,000 faces at 1024x1024, the images1024x1024 folder of the official
# release (PNGs in sub-folders; searched recursively). Other sizes or a different
# folder: python tools/dataset_converters/images_to_square.py SRC DST --size 1024
_base_ = ['./image_folder.py']

data_root = 'data/ffhq/images1024x1024'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
