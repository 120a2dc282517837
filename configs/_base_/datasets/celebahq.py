# CelebA-HQ: the 30,000 faces at 1024x1024 (made with the ProGAN dataset tool or an
# image release; PNG/JPG files, any sub-folders):
#   python tools/dataset_converters/images_to_square.py SRC data/celebahq_1024 --size 1024
_base_ = ['./image_folder.py']

data_root = 'data/celebahq_1024'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
