# Paper Table 4: MSG-ProGAN on FFHQ 1024 with coarse connections only (4, 8);
# the full resolution is always fed. All connections: msg_progan_ffhq.py.
#   tools/dist_train.sh configs/msg_progan_ffhq_ablation_coarse.py 4
_base_ = ['./msg_progan_ffhq.py']

model = dict(msg_scales=[4, 8])
