# Oxford 102 Flowers: the 8,189 photos (the jpg/ folder of 102flowers.tgz), centre-cropped
# to 256x256:
#   python tools/dataset_converters/images_to_square.py jpg data/oxford_flowers_256 --size 256
_base_ = ['./image_folder.py']

data_root = 'data/oxford_flowers_256'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
