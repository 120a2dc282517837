# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
import pytest

import msg_plugin  # noqa: F401  (host workarounds before mmagic.models)
from mmagic.utils import register_all_modules


@pytest.fixture(scope='session', autouse=True)
def mmagic_scope():
    """Build everything in mmagic's registry scope, as the configs do."""
    register_all_modules(init_default_scope=True)
