# mmagic's GAN runtime plus the plugin's modules.
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['msg_plugin'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1000, max_keep_ckpts=3))

# The paper's optimiser: RMSprop, lr 0.003 for G and D. The reference code's Adam
# (lr 0.003, betas (0, 0.99), eps 1e-8) is the alternative:
#   optimizer=dict(type='Adam', lr=0.003, betas=(0., 0.99), eps=1e-8)
optim_wrapper = dict(
    generator=dict(optimizer=dict(type='RMSprop', lr=0.003)),
    discriminator=dict(optimizer=dict(type='RMSprop', lr=0.003)))
