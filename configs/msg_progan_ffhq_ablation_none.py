# Paper Table 4: MSG-ProGAN on FFHQ 1024 with no multi-scale connections (a DCGAN-style ProGAN without growing);
# the full resolution is always fed. All connections: msg_progan_ffhq.py.
#   tools/dist_train.sh configs/msg_progan_ffhq_ablation_none.py 4
_base_ = ['./msg_progan_ffhq.py']

model = dict(msg_scales=[])
