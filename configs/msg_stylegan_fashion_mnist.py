# MSG-StyleGAN demo on Fashion-MNIST: 32x32 grey, 4 scales, small widths.
# Needs the Debian data (tools/install.sh fetches it); trains on CPU like the MNIST
# demo: tools/train.py configs/msg_stylegan_fashion_mnist.py
_base_ = ['./_base_/models/msg_stylegan.py', './_base_/fashion_mnist_demo.py']

widths = dict(channel_base=1024, max_channels=32)  # 32 channels at 4..32
model = dict(
    generator=dict(out_size=32, img_channels=1, style_channels=32, **widths),
    discriminator=dict(in_scale=32, img_channels=1, **widths),
    # 10 kimg half-life at batch 16
    ema_config=dict(momentum=1 - 0.5**(16 / 10000)))
