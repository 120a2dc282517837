# MSG-StyleGAN colour demo on the Noto emoji: 64x64 RGB, 5 scales, small widths, so
# that the 64-px scale is exercised on CPU (about 0.3 s per iteration at batch 16 on
# 2 cores, like the MNIST demos). Needs the Debian font (tools/install.sh
# fetches it): tools/train.py configs/msg_stylegan_noto_emoji.py
_base_ = ['./_base_/models/msg_stylegan.py', './_base_/noto_emoji_demo.py']

widths = dict(channel_base=512, max_channels=16)  # 16 channels at 4..32, 8 at 64
model = dict(
    generator=dict(out_size=64, img_channels=3, style_channels=32, **widths),
    discriminator=dict(in_scale=64, img_channels=3, **widths),
    # 10 kimg half-life at batch 16
    ema_config=dict(momentum=1 - 0.5**(16 / 10000)))
