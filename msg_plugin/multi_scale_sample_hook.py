# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Sample sheets showing every resolution side by side (paper Figs. 1 and 5)."""
import inspect
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmagic.registry import HOOKS
from torch import Tensor
from torchvision.utils import make_grid


@torch.no_grad()
def render_fixed_latents(model: nn.Module,
                         num_samples: int,
                         seed: int,
                         sample_model: str = 'ema') -> List[Tensor]:
    """Render seeded latents at every scale, as the training hooks show them.

    The EMA generator is used when ``sample_model='ema'`` and the model has one,
    else the raw generator; it runs in eval mode, with its fixed noise maps when
    it has them (StyleGAN), so the same latents give the same images until the
    weights change. The global random state is not touched.

    Args:
        model (nn.Module): The GAN model (wrapped or not).
        num_samples (int): Number of latents.
        seed (int): Seed of the latents.
        sample_model (str): ``'ema'`` or ``'orig'``. Defaults to ``'ema'``.

    Returns:
        list[Tensor]: One batch per scale, low to high, clamped to [-1, 1]
        (one entry for a single-scale generator).
    """
    model = model.module if is_model_wrapper(model) else model
    if sample_model == 'ema' and model.with_ema_gen:
        generator = model.generator_ema.module  # the averaged copy
    elif is_model_wrapper(model.generator):
        generator = model.generator.module
    else:
        generator = model.generator
    noise = torch.randn(
        num_samples,
        model.noise_size,
        generator=torch.Generator().manual_seed(seed))
    kwargs = {'return_scales': True} if hasattr(generator, 'resolutions') \
        else {}
    if 'randomize_noise' in inspect.signature(generator.forward).parameters:
        kwargs['randomize_noise'] = False
    was_training = generator.training
    generator.eval()
    out = generator(noise.to(model.device), **kwargs)
    generator.train(was_training)
    scales = out if isinstance(out, (list, tuple)) else [out]
    return [s.clamp(-1, 1) for s in scales]


def upsample_scales(scales: List[Tensor]) -> Tensor:
    """Every scale upsampled (nearest) to the largest: ``(N, S, C, R, R)``.

    Row ``n`` holds image ``n`` at each scale, as the sample sheets show it.

    Args:
        scales (list[Tensor]): One batch per scale, low to high.

    Returns:
        Tensor: The scales stacked along dim 1.
    """
    size = scales[-1].shape[-1]
    return torch.stack(
        [F.interpolate(s, size=size, mode='nearest') for s in scales], dim=1)


@HOOKS.register_module()
class MultiScaleSampleHook(Hook):
    """Write a sheet of fixed latents rendered at every scale during training.

    Rows are the fixed latents, columns the generator's scales from 4x4 to full
    size, each upsampled (nearest) to the full size. The sheet goes to the
    runner's visualizer as ``multi_scale`` (mmagic's ``VisBackend`` writes
    ``vis_data/vis_image/multi_scale_<iter>.png`` in the run's log dir; a
    TensorBoard backend gets it too when configured). The latents are drawn from
    a seeded generator, so the rows stay the same across resumes.

    Args:
        interval (int): Write every ``interval`` iterations and after the last.
            Defaults to 1000.
        num_samples (int): Number of latents (rows). Defaults to 8.
        seed (int): Seed of the fixed latents. Defaults to 0.
        sample_model (str): ``'ema'`` (the EMA generator when the model has one)
            or ``'orig'``. Defaults to ``'ema'``.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 1000,
                 num_samples: int = 8,
                 seed: int = 0,
                 sample_model: str = 'ema') -> None:
        if sample_model not in ('ema', 'orig'):
            raise ValueError(
                f"sample_model must be 'ema' or 'orig', got {sample_model!r}.")
        self.interval = interval
        self.num_samples = num_samples
        self.seed = seed
        self.sample_model = sample_model

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Write a sheet every ``interval`` iterations and after the last one."""
        if (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            self.write_sheet(runner)

    @master_only
    def write_sheet(self, runner) -> None:
        """Render the fixed latents at every scale and hand the sheet over.

        Args:
            runner (Runner): The training runner.
        """
        runner.visualizer.add_image(
            'multi_scale', self.render(runner.model), step=runner.iter + 1)

    def render(self, model) -> np.ndarray:
        """The sheet as an RGB ``uint8`` array ``(H, W, 3)``.

        Args:
            model (nn.Module): The GAN model (wrapped or not).

        Returns:
            np.ndarray: The sheet.
        """
        scales = render_fixed_latents(model, self.num_samples, self.seed,
                                      self.sample_model)
        cells = upsample_scales(scales).flatten(0, 1)  # row-major sheet
        if cells.shape[1] == 1:
            cells = cells.expand(-1, 3, -1, -1)
        sheet = make_grid(
            cells, nrow=len(scales), normalize=True, value_range=(-1, 1),
            pad_value=1)
        return (sheet.permute(1, 2, 0) * 255).round().byte().cpu().numpy()
