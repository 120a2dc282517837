# CIFAR-10: the 50,000 training images, 32x32 RGB (10 classes, unconditional here).
# Make the folder from the official python batches (cifar-10-python.tar.gz):
#   python tools/dataset_converters/cifar10_to_png.py cifar-10-batches-py data/cifar10
_base_ = ['./image_folder.py']

data_root = 'data/cifar10'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
