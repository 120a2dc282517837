# MSG-StyleGAN (paper section 4, reference TF code): NS loss + multi-scale R1,
# phi_cat_lin, EMA generator. Leaf configs set the resolution and the EMA momentum
# for their batch size (10 kimg half-life: 1 - 0.5 ** (global_batch / 10000)).
model = dict(
    type='MSGGAN',
    data_preprocessor=dict(type='DataPreprocessor'),
    generator=dict(type='MSGStyleGenerator', out_size=None, style_channels=512),
    discriminator=dict(
        type='MSGStyleDiscriminator',
        in_scale=None,
        combine=dict(type='CatLinCombine')),
    ema_config=dict(type='ExponentialMovingAverage', interval=1),
    loss_config=dict(
        gan_loss=dict(
            type='NonSaturatingR1Loss', r1_weight=10., r1_mode='total')))
