# Paper Table 5: MSG-ProGAN on FFHQ 1024 with the combine function phi_cat_lin;
# its default, phi_simple, is msg_progan_ffhq.py.
#   tools/dist_train.sh configs/msg_progan_ffhq_combine_cat_lin.py 4
_base_ = ['./msg_progan_ffhq.py']

model = dict(discriminator=dict(combine=dict(type='CatLinCombine')))
