# mmagic's GAN runtime plus the plugin's modules.
_base_ = ['mmagic::_base_/gen_default_runtime.py']

custom_imports = dict(imports=['msg_plugin'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(interval=50),
    # data vs model and checkpoint vs model, before the first iteration
    input_check=dict(type='InputCheckHook'),
    # crash-safe saves: complete files only, pointer after file, prune last
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1000, max_keep_ckpts=3,
        backend_args=dict(backend='atomic_local')),
    # random states in checkpoints: a resume continues the run exactly
    random_state=dict(type='RandomStateHook'),
    # DDP checkpoints under plain names: a DDP resume restores G and D
    unwrapped_checkpoint=dict(type='UnwrappedCheckpointHook'))

# The paper's optimiser: RMSprop, lr 0.003 for G and D. The reference code's Adam
# (lr 0.003, betas (0, 0.99), eps 1e-8) is the alternative:
#   optimizer=dict(type='Adam', lr=0.003, betas=(0., 0.99), eps=1e-8)
optim_wrapper = dict(
    generator=dict(optimizer=dict(type='RMSprop', lr=0.003)),
    discriminator=dict(optimizer=dict(type='RMSprop', lr=0.003)))
