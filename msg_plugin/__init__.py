# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""MSG-GAN for mmagic; importing this package registers its modules.

The host workarounds run first: the modules below import ``mmagic.models``, which
needs the ``mmcv._ext`` placeholder when only mmcv-lite is installed.
"""
from .host_compat import (allow_full_checkpoint_loading,
                          install_mmcv_ext_placeholder)

install_mmcv_ext_placeholder()
allow_full_checkpoint_loading()

# isort: off
from .atomic_checkpoint import (AtomicCheckpointHook,  # noqa: E402
                                AtomicLocalBackend)
from .checkpoint_keys_hook import UnwrappedCheckpointHook  # noqa: E402
from .combine import CatLinCombine, LinCatCombine, SimpleCombine  # noqa: E402
from .exported_generator import load_generator, save_generator  # noqa: E402
from .fashion_mnist_dataset import FashionMNISTDataset  # noqa: E402
from .image_folder_dataset import ImageFolderDataset  # noqa: E402
from .input_check_hook import InputCheckHook  # noqa: E402
from .mnist_dataset import EmbeddedMNISTDataset  # noqa: E402
from .msg_gan import MSGGAN  # noqa: E402
from .msg_losses import (MultiScaleWGANGPLoss, NonSaturatingR1Loss,  # noqa: E402
                         RelativisticAverageHingeLoss)
from .msg_progan_discriminator import MSGProGANDiscriminator  # noqa: E402
from .msg_progan_generator import MSGProGANGenerator  # noqa: E402
from .msg_stylegan_discriminator import MSGStyleDiscriminator  # noqa: E402
from .msg_stylegan_generator import MSGStyleGenerator  # noqa: E402
from .multi_scale_sample_hook import MultiScaleSampleHook  # noqa: E402
from .kernel_inception_distance import OfflineKID  # noqa: E402
from .multi_scale_fid import MultiScaleFID  # noqa: E402
from .noto_emoji_dataset import NotoEmojiDataset  # noqa: E402
from .offline_fid import OfflineFID  # noqa: E402
from .offline_inception_score import OfflineIS  # noqa: E402
from .pyramid import image_pyramid  # noqa: E402
from .random_state_hook import RandomStateHook  # noqa: E402
from .stability_hook import TrainingStabilityHook  # noqa: E402

__version__ = '0.1.0'
__all__ = [
    'AtomicCheckpointHook', 'AtomicLocalBackend', 'CatLinCombine',
    'EmbeddedMNISTDataset', 'FashionMNISTDataset', 'ImageFolderDataset',
    'InputCheckHook', 'LinCatCombine', 'MSGGAN', 'MSGProGANDiscriminator',
    'MSGProGANGenerator', 'MSGStyleDiscriminator', 'MSGStyleGenerator',
    'MultiScaleFID', 'MultiScaleSampleHook', 'MultiScaleWGANGPLoss',
    'NonSaturatingR1Loss', 'NotoEmojiDataset', 'OfflineFID', 'OfflineIS',
    'OfflineKID', 'RandomStateHook', 'RelativisticAverageHingeLoss',
    'SimpleCombine', 'TrainingStabilityHook', 'UnwrappedCheckpointHook',
    'image_pyramid', 'load_generator', 'save_generator'
]
