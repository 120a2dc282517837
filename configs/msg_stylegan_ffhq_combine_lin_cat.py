# Paper Table 5: MSG-StyleGAN on FFHQ 1024 with the combine function phi_lin_cat;
# its default, phi_cat_lin, is msg_stylegan_ffhq.py.
#   tools/dist_train.sh configs/msg_stylegan_ffhq_combine_lin_cat.py 4
_base_ = ['./msg_stylegan_ffhq.py']

model = dict(discriminator=dict(combine=dict(type='LinCatCombine')))
