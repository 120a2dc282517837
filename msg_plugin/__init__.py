# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-GAN for mmagic; importing this package registers its modules."""
from .host_compat import (allow_full_checkpoint_loading,
                          install_mmcv_ext_placeholder)

install_mmcv_ext_placeholder()
allow_full_checkpoint_loading()

__version__ = '0.1.0'
