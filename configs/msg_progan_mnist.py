# MSG-ProGAN demo on the embedded MNIST digits: 32x32 grey, 4 scales, small widths.
# Trains on CPU in about 10 minutes: tools/train.py configs/msg_progan_mnist.py
_base_ = ['./_base_/models/msg_progan.py', './_base_/mnist_demo.py']

widths = dict(channel_base=1024, max_channels=32)  # 32 channels at 4..32
model = dict(
    generator=dict(out_scale=32, img_channels=1, **widths),
    discriminator=dict(in_scale=32, img_channels=1, **widths))
