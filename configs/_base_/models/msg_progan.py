# MSG-ProGAN (paper Tables 6/7): WGAN-GP averaged over scales, phi_simple, EMA G.
model = dict(
    type='MSGGAN',
    data_preprocessor=dict(type='DataPreprocessor'),
    generator=dict(type='MSGProGANGenerator', out_scale=None),
    discriminator=dict(
        type='MSGProGANDiscriminator',
        in_scale=None,
        combine=dict(type='SimpleCombine')),
    # EMA of G with beta 0.999 (reference code), updated after every G step.
    ema_config=dict(type='ExponentialMovingAverage', interval=1,
                    momentum=0.001),
    loss_config=dict(
        gan_loss=dict(
            type='MultiScaleWGANGPLoss', gp_weight=10., drift_weight=0.001)))

