# Indian Celebs: about 3,000 face photos (the paper's own collection), 256x256.
#   python tools/dataset_converters/images_to_square.py SRC data/indian_celebs_256 --size 256
_base_ = ['./image_folder.py']

data_root = 'data/indian_celebs_256'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
