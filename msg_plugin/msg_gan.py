# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The MSG-GAN model: BaseGAN training with every scale fed to the discriminator."""
import inspect
import logging
import math
from copy import deepcopy
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmagic.models import BaseGAN
from mmagic.models.utils import get_valid_num_batches
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from mmengine import MessageHub
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor

from .pyramid import image_pyramid
from .scales import fed_resolutions

ModelType = Union[Dict, torch.nn.Module]


def _with_msg_scales(cfg: ModelType, msg_scales: Optional[Sequence[int]],
                     role: str) -> ModelType:
    """Give a network config the model's ``msg_scales``, if it takes them.

    Args:
        cfg (dict | nn.Module): Generator or discriminator config (a built
            module is returned unchanged and checked after building).
        msg_scales (Sequence[int], optional): The model's switch.
        role (str): 'generator' or 'discriminator', for the message.

    Returns:
        dict | nn.Module: The config with ``msg_scales`` set.
    """
    if msg_scales is None or not isinstance(cfg, dict):
        return cfg
    own = cfg.get('msg_scales')
    if own is not None and sorted(own) != sorted(msg_scales):
        raise ValueError(
            f'MSGGAN(msg_scales={list(msg_scales)}) contradicts the {role} '
            f'config (msg_scales={list(own)}): set the switch in one place.')
    network = MODELS.get(cfg['type']) if isinstance(cfg['type'], str) \
        else cfg['type']
    if not any('msg_scales' in inspect.signature(cls.__init__).parameters
               for cls in getattr(network, '__mro__', ())):
        return cfg
    return dict(cfg, msg_scales=list(msg_scales))


@MODELS.register_module()
class MSGGAN(BaseGAN):
    """MSG-GAN (Karnewar & Wang, CVPR 2020) on mmagic's ``BaseGAN``.

    The generator returns its images at every scale (``return_scales=True``); the
    real batch, normalised to [-1, 1] by the data preprocessor, is turned into the
    matching pyramid by 2x2 average pooling; the discriminator scores the list of
    scales. D and G steps alternate as in ``BaseGAN.train_step`` (one D step per
    iteration, a G step every ``discriminator_steps``), and the host's EMA
    generator is kept when ``ema_config`` is given. Sampling (``forward``) returns
    the highest resolution, so mmagic's metrics, hooks and inferencer work as
    with any other GAN.

    Args:
        generator (dict | nn.Module): A multi-scale generator
            (``MSGProGANGenerator``, ``MSGStyleGenerator``), or any mmagic
            generator when the discriminator reads a single scale.
        discriminator (dict | nn.Module): A multi-scale discriminator
            (``MSGProGANDiscriminator``, ``MSGStyleDiscriminator``); it is fed
            the scales in its ``resolutions``.
        data_preprocessor (dict, optional): Defaults to None.
        generator_steps (int): G updates per G turn. Defaults to 1.
        discriminator_steps (int): D updates per G turn. Defaults to 1.
        noise_size (int, optional): Latent size; taken from the generator when
            it has one. Defaults to None.
        ema_config (dict, optional): Config of mmagic's
            ``ExponentialMovingAverage`` for the generator. Defaults to None.
        loss_config (dict, optional): ``dict(gan_loss=dict(type=...))`` with one of
            ``MultiScaleWGANGPLoss`` (the default), ``NonSaturatingR1Loss``,
            ``RelativisticAverageHingeLoss``.
        msg_scales (Sequence[int], optional): The multi-scale connections (paper
            Table 4): lower resolutions fed to D besides the full one. Passed to
            the generator and discriminator configs (a generator without the
            argument, e.g. mmagic's, is left alone); losses and penalties
            average over the scales fed. Defaults to None: as the networks are
            built (all scales by default).
        nonfinite (str): What a NaN/Inf loss term or gradient does, checked
            after the backward pass and before the optimizer step: ``'stop'``
            raises one error naming the term (e.g. ``loss_gp``, or the
            parameter whose gradient it is) and the iteration, so the weights
            and the checkpoints stay finite; ``'skip'`` drops that update,
            counts it (``nonfinite_skips``, logged and kept in the
            checkpoint's message hub) and trains on. Defaults to ``'stop'``.
    """

    def __init__(self,
                 generator: ModelType,
                 discriminator: ModelType,
                 data_preprocessor: Optional[dict] = None,
                 generator_steps: int = 1,
                 discriminator_steps: int = 1,
                 noise_size: Optional[int] = None,
                 ema_config: Optional[dict] = None,
                 loss_config: Optional[dict] = None,
                 msg_scales: Optional[Sequence[int]] = None,
                 nonfinite: str = 'stop') -> None:
        if nonfinite not in ('stop', 'skip'):
            raise ValueError(
                f"MSGGAN(nonfinite={nonfinite!r}): use 'stop' (raise at a "
                "NaN/Inf loss or gradient) or 'skip' (drop that update).")
        loss_config = loss_config or dict(
            gan_loss=dict(type='MultiScaleWGANGPLoss'))
        generator = _with_msg_scales(generator, msg_scales, 'generator')
        discriminator = _with_msg_scales(discriminator, msg_scales,
                                         'discriminator')
        super().__init__(generator, discriminator, data_preprocessor,
                         generator_steps, discriminator_steps, noise_size,
                         ema_config, loss_config)
        self.nonfinite = nonfinite
        self._pending_losses: Dict[str, list] = {}
        if not hasattr(self.gan_loss, 'disc_loss'):
            raise ValueError(
                'MSGGAN needs loss_config=dict(gan_loss=dict(type=...)) with a '
                'multi-scale loss: MultiScaleWGANGPLoss, NonSaturatingR1Loss or '
                f'RelativisticAverageHingeLoss; got {loss_config!r}.')
        self._check_scales_match()
        if msg_scales is not None and self.discriminator.resolutions != \
                fed_resolutions(self.discriminator.in_scale, msg_scales):
            raise ValueError(
                f'MSGGAN(msg_scales={list(msg_scales)}) but the discriminator '
                f'reads {self.discriminator.resolutions}: build it with the '
                'same msg_scales, or pass it as a config.')

    def _check_scales_match(self) -> None:
        """Fail at build time when G cannot feed the scales D reads.

        A multi-scale generator (one with ``resolutions``, e.g.
        ``MSGProGANGenerator``) must emit every scale the discriminator reads;
        any other generator (mmagic's own) gives one image, so the discriminator
        must read one scale (``msg_scales=[]``).
        """
        gen, disc = self.generator, self.discriminator
        wanted = list(disc.resolutions)
        g_channels = getattr(gen, 'img_channels', disc.img_channels)
        if hasattr(gen, 'resolutions'):
            if not set(wanted) <= set(gen.resolutions) or (
                    g_channels != disc.img_channels):
                raise ValueError(
                    f'The generator makes scales {gen.resolutions} with '
                    f'{g_channels} channels but the discriminator reads '
                    f'{wanted} with {disc.img_channels}: give both the same '
                    'resolution (out_scale / in_scale) and img_channels.')
            self._scale_index = [gen.resolutions.index(r) for r in wanted]
        elif len(wanted) != 1:
            raise ValueError(
                f'{type(gen).__name__} returns one image, but the '
                f'discriminator reads the scales {wanted}: use an MSG '
                'generator, or msg_scales=[] on the discriminator.')
        else:
            self._scale_index = None

    def generate_scales(self, num_batches: int) -> List[Tensor]:
        """Sample fresh latents and return the scales D reads, low to high.

        Args:
            num_batches (int): Batch size.

        Returns:
            list[Tensor]: One batch per scale.
        """
        noise = self.noise_fn(num_batches=num_batches)
        if self._scale_index is None:
            return [self.generator(noise)]
        scales = self.generator(noise, return_scales=True)
        return [scales[i] for i in self._scale_index]

    def forward(self,
                inputs: Union[dict, Tensor],
                data_samples: Optional[list] = None,
                mode: Optional[str] = None) -> List[DataSample]:
        """Sample images; with ``sample_kwargs=dict(return_scales=True)`` also
        every lower scale.

        Without ``return_scales`` this is ``BaseGAN.forward``. With it, one
        generator pass yields all scales: ``fake_img`` holds the highest one
        and ``fake_img_<res>`` each lower one (e.g. ``fake_img_8``), all
        de-normalised like ``fake_img`` (for per-scale metrics).

        Args:
            inputs (dict | Tensor): As ``BaseGAN.forward``.
            data_samples (list, optional): As ``BaseGAN.forward``.
            mode (str, optional): Unused.

        Returns:
            list[DataSample]: One sample per generated image.
        """
        sample_kwargs = dict(inputs.get('sample_kwargs') or {}) if isinstance(
            inputs, dict) else {}
        if not sample_kwargs.pop('return_scales', False):
            return super().forward(inputs, data_samples, mode)
        sample_model = self._get_valid_model(inputs)
        if sample_model not in ('ema', 'orig'):
            raise ValueError(
                "return_scales samples one generator: sample_model must be "
                f"'ema' or 'orig', got {sample_model!r}.")
        noise = self.noise_fn(
            inputs.get('noise'),
            num_batches=get_valid_num_batches(inputs, data_samples))
        generator = self.generator_ema if sample_model == 'ema' \
            else self.generator
        scales = generator(noise, return_scales=True, **sample_kwargs)
        sample = DataSample()
        if data_samples:
            sample.update(data_samples)
        sample.fake_img = self.data_preprocessor.destruct(
            scales[-1], data_samples)
        for img in scales[:-1]:
            sample.set_field(
                self.data_preprocessor.destruct(img, data_samples),
                f'fake_img_{img.shape[-1]}')
        sample.noise = noise
        sample.sample_model = sample_model
        sample.sample_kwargs = deepcopy(inputs['sample_kwargs'])
        return sample.split(allow_nonseq_value=True)

    def real_scales(self, real: Tensor, fake: List[Tensor]) -> List[Tensor]:
        """The real-image pyramid at the resolutions of ``fake``.

        Args:
            real (Tensor): Preprocessed real batch ``(N, C, R, R)``.
            fake (list[Tensor]): Generated scales, low to high.

        Returns:
            list[Tensor]: Real scales, low to high.
        """
        if real.shape[1:] != fake[-1].shape[1:]:
            raise ValueError(
                f'Real images are shaped (C, H, W) = {tuple(real.shape[1:])} '
                f'but the generator makes {tuple(fake[-1].shape[1:])}: set '
                'img_channels and the resolution to match the data, or convert '
                "the data (LoadImageFromFile color_type='grayscale' or 'color', "
                'a Resize transform).')
        return image_pyramid(real, [f.shape[-1] for f in fake])

    def train_discriminator(self, inputs: dict, data_samples: DataSample,
                            optimizer_wrapper: OptimWrapper
                            ) -> Dict[str, Tensor]:
        """One discriminator update on a real batch and a fresh fake batch.

        Args:
            inputs (dict): Unused; real images are ``data_samples.gt_img``.
            data_samples (DataSample): The preprocessed batch.
            optimizer_wrapper (OptimWrapper): The discriminator's optimizer.

        Returns:
            dict[str, Tensor]: Values to log.
        """
        real = data_samples.gt_img
        with torch.no_grad():
            fake = self.generate_scales(real.shape[0])
        losses = self.gan_loss.disc_loss(
            self.discriminator, self.real_scales(real, fake), fake,
            getattr(optimizer_wrapper, 'loss_scaler', None))
        loss, log_vars = self.parse_losses(losses)
        self._update_params(optimizer_wrapper, loss, log_vars, 'discriminator')
        return log_vars

    def train_generator(self, inputs: dict, data_samples: DataSample,
                        optimizer_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One generator update; D is frozen by ``BaseGAN.train_step``.

        Args:
            inputs (dict): Unused; real images are ``data_samples.gt_img``.
            data_samples (DataSample): The preprocessed batch (the relativistic
                loss scores it).
            optimizer_wrapper (OptimWrapper): The generator's optimizer.

        Returns:
            dict[str, Tensor]: Values to log.
        """
        real = data_samples.gt_img
        fake = self.generate_scales(real.shape[0])
        losses = self.gan_loss.gen_loss(self.discriminator,
                                        self.real_scales(real, fake), fake)
        loss, log_vars = self.parse_losses(losses)
        self._update_params(optimizer_wrapper, loss, log_vars, 'generator')
        return log_vars

    def _update_params(self, optimizer_wrapper: OptimWrapper, loss: Tensor,
                       log_vars: Dict[str, Tensor], role: str) -> None:
        """``optimizer_wrapper.update_params(loss)`` that never steps on
        NaN/Inf: backward, check, step, zero_grad (see ``nonfinite``).

        The loss terms of every backward pass and, at the update, the
        gradients (one fused norm) are checked with a single synchronisation;
        gradient accumulation (``should_update``) is respected. Under AMP the
        gradients are left to the loss scaler, which skips overflowing steps
        itself; the loss terms are still checked. In 'skip' mode the decision
        is all-reduced, so every process drops the same updates.

        Args:
            optimizer_wrapper (OptimWrapper): The optimizer of ``role``.
            loss (Tensor): The summed loss.
            log_vars (dict[str, Tensor]): Its terms, as logged; gets
                ``nonfinite_skips`` in 'skip' mode.
            role (str): 'discriminator' or 'generator', for the messages.
        """
        pending = self._pending_losses.setdefault(role, [])
        pending.append((list(log_vars), torch.stack(
            [v.detach().float().reshape(()) for v in log_vars.values()])))
        optimizer_wrapper.backward(optimizer_wrapper.scale_loss(loss))
        hub = MessageHub.get_current_instance()
        if self.nonfinite == 'skip':
            log_vars['nonfinite_skips'] = torch.tensor(
                float(hub.get_info('nonfinite_skips', 0)))
        if not optimizer_wrapper.should_update():
            return
        self._pending_losses[role] = []
        flags = [torch.isfinite(values) for _, values in pending]
        grads = [
            p.grad for group in optimizer_wrapper.param_groups
            for p in group['params'] if p.grad is not None
        ]
        if grads and not hasattr(optimizer_wrapper, 'loss_scaler'):
            norm = torch.stack(torch._foreach_norm(grads)).sum()
            flags.append(torch.isfinite(norm).reshape(1).to(flags[0].device))
        finite = torch.cat(flags).all().int()
        if self.nonfinite == 'skip' and torch.distributed.is_available() \
                and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() > 1:
            torch.distributed.all_reduce(
                finite, op=torch.distributed.ReduceOp.MIN)
        if finite.item():
            optimizer_wrapper.step()
            optimizer_wrapper.zero_grad()
            return
        what = self._nonfinite_culprit(pending, optimizer_wrapper)
        iteration = hub.get_info('iter')
        when = '' if iteration is None else f' at iteration {iteration + 1}'
        if self.nonfinite == 'stop':
            raise RuntimeError(
                f'MSGGAN: {what}{when} (the {role} update): training stopped '
                'before the optimizer step, so the weights and checkpoints '
                'stay finite; lower the learning rate or check the data, or '
                "set model.nonfinite='skip' to drop such updates.")
        optimizer_wrapper.zero_grad()
        skips = hub.get_info('nonfinite_skips', 0) + 1
        hub.update_info('nonfinite_skips', skips)
        log_vars['nonfinite_skips'] = torch.tensor(float(skips))
        print_log(
            f'MSGGAN: {what}{when}: skipped this {role} update '
            f'(nonfinite_skips={skips}).',
            logger='current',
            level=logging.WARNING)

    def _nonfinite_culprit(self, pending: list,
                           optimizer_wrapper: OptimWrapper) -> str:
        """Name the first non-finite loss term, else gradient, and its value.

        Args:
            pending (list): ``(names, values)`` of the loss terms of each
                backward pass since the last update.
            optimizer_wrapper (OptimWrapper): Holds the gradients.

        Returns:
            str: E.g. ``"loss_gp is nan"``.
        """
        for names, values in pending:
            bad = [(n, v) for n, v in zip(names, values.tolist())
                   if not math.isfinite(v)]
            if bad:  # a term rather than the total 'loss', if any
                name, value = next((b for b in bad if b[0] != 'loss'), bad[0])
                return f'{name} is {value}'
        watched = {
            id(p)
            for group in optimizer_wrapper.param_groups
            for p in group['params']
        }
        for name, param in self.named_parameters():
            grad = param.grad
            if id(param) in watched and grad is not None and \
                    not torch.isfinite(grad).all():
                value = 'nan' if torch.isnan(grad).any() else 'inf'
                return f'the gradient of {name} is {value}'
        return 'a loss or gradient is not finite on another process'
