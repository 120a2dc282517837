# Paper Table 3: MSG-ProGAN on CIFAR-10 with learning rate 0.01 for G and D
# (RMSprop; the default 0.003 is msg_progan_cifar10.py).
#   tools/train.py configs/msg_progan_cifar10_lr1e-2.py
_base_ = ['./msg_progan_cifar10.py']

optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=0.01)),
    discriminator=dict(optimizer=dict(lr=0.01)))
