# MSG-ProGAN colour demo on the Noto emoji: 64x64 RGB, 5 scales, small widths, so
# that the 64-px scale is exercised on CPU (about 0.3 s per iteration at batch 16 on
# 2 cores, like the MNIST demos). Needs the Debian font (tools/install.sh
# fetches it): tools/train.py configs/msg_progan_noto_emoji.py
_base_ = ['./_base_/models/msg_progan.py', './_base_/noto_emoji_demo.py']

widths = dict(channel_base=512, max_channels=16)  # 16 channels at 4..32, 8 at 64
model = dict(
    generator=dict(out_scale=64, img_channels=3, **widths),
    discriminator=dict(in_scale=64, img_channels=3, **widths))
