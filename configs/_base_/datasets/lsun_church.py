# LSUN Church (outdoor, train split): 126,227 photos exported from the LMDB as images
# (e.g. with the LSUN repository's export script), centre-cropped to 256x256:
#   python tools/dataset_converters/images_to_square.py SRC data/lsun_church_256 --size 256
# No mirror augmentation for LSUN (as the reference code).
_base_ = ['./image_folder.py']

data_root = 'data/lsun_church_256'
train_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline={{_base_.real_pipeline}}))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
