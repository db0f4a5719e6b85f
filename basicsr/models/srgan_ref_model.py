"""SRGANRefModel: Pairwise Distance Distillation (Zhang, Lee, Yao, ECCV 2024, arXiv 2407.07302).

The specialist `net_g` is adapted to a real-world target domain from two streams per step: synthetic pairs
(`lq_s`, `gt_s`) and unpaired real LR (`lq_t`). A generalist that never receives gradients (the EMA of net_g in EMA
mode, a frozen `net_g_fix` in static mode) provides the reference distances for the DistillationLoss.

The step computes the authors' losses and gradients (checked in float64 against their order of computation,
benchmarks/reference_step.py) with fewer passes: the feature losses share two batched VGG passes (`shared_vgg`), the
generalist runs without autograd bookkeeping (`inference_mode`) and only when the distillation is active, and net_g
runs without gradients on D-only iterations.
"""

from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from basicsr.archs import build_network
from basicsr.losses.shared_vgg import FeatureBank, FeatureNeed, SharedVGGPasses, vgg_features
from basicsr.models.pdd_checks import check_pdd_options, is_ema_mode
from basicsr.models.perf_options import PerfOptions
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY


@dataclass(frozen=True)
class PDDPerfOptions(PerfOptions):
    """PerfOptions plus PDD's own exact switches; PDD turns the exact speed-ups on by default.

    shared_vgg: the distillation, perceptual and ND losses share one batched VGG pass with gradients (specialist
        outputs) and one without (generalist outputs, GT) instead of six passes; same features, same gradients.
    inference_mode: the generalist's forward runs under torch.inference_mode instead of no_grad (same values).
    """

    channels_last: bool = True
    fused_optimizer: bool = True
    shared_vgg: bool = True
    inference_mode: bool = True


@MODEL_REGISTRY.register()
class SRGANRefModel(SRGANModel):
    """SRGAN on the synthetic stream plus distance distillation between the synthetic and the real stream."""

    perf_defaults = PDDPerfOptions()

    @classmethod
    def check_options(cls, opt: dict) -> list[str]:
        return check_pdd_options(opt)

    @classmethod
    def unused_networks(cls, opt: dict) -> set[str]:
        """EMA-mode files carry a `network_g_fix` block that is never built."""
        return {'network_g_fix'} if is_ema_mode(opt) else set()

    @classmethod
    def unsaved_networks(cls, opt: dict) -> set[str]:
        """The generalist `network_g_fix` is an input, never checkpointed: a resume reloads it from its own path."""
        return {'network_g_fix'}

    def init_training_settings(self) -> None:
        train_opt = self.opt['train']
        self.use_net_g_ema = is_ema_mode(self.opt)
        if train_opt.get('fix_backbone'):
            self.freeze_backbone()
        if not self.use_net_g_ema:
            self.setup_fixed_generalist()
        super().init_training_settings()
        self.cri_domain = self.build_optional_loss(train_opt, 'domain_opt')
        self.cri_nd = self.build_optional_loss(train_opt, 'nd_opt')
        self.domain_opt_warmup_iters = (train_opt.get('domain_opt_warmup_iters', 0) or 0) + self.net_d_init_iters
        self.domain_opt_detach = train_opt.get('domain_opt_detach', True)
        self.domain_opt_wogan = train_opt.get('domain_opt_wogan', False)
        self.setup_feature_passes()

    def setup_feature_passes(self) -> None:
        """The generalist in the step's memory format (compiled if asked), and the VGG passes the feature losses
        share."""
        self.to_memory_format(self.generalist)
        runner = vgg_features
        if self.perf.compile:
            mode = None if self.perf.compile is True else self.perf.compile
            self.generalist.compile(mode=mode)
            runner = torch.compile(vgg_features, mode=mode)
        losses = [loss for loss in (self.cri_domain, self.cri_nd, self.cri_perceptual) if loss is not None]
        self.vgg_passes = SharedVGGPasses([loss.vgg for loss in losses], share=self.perf.shared_vgg, runner=runner)

    def freeze_backbone(self) -> None:
        """`train.fix_backbone`: train only the reconstruction head; the feature trunk (`body`) stays as loaded."""
        body = getattr(self.get_bare_model(self.net_g), 'body', None)
        if body is None:
            raise ValueError(f'train.fix_backbone: {self.opt["network_g"]["type"]} has no `body` trunk to freeze.')
        for param in body.parameters():
            param.requires_grad_(False)

    def setup_fixed_generalist(self) -> None:
        """Static mode: build `network_g_fix`, load `pretrain_network_g_fix`, freeze it and keep it in eval mode."""
        self.net_g_fix = build_network(self.opt['network_g_fix']).to(self.device)
        self._load_pretrained(self.net_g_fix, 'g_fix')
        self.net_g_fix.eval()
        for param in self.net_g_fix.parameters():
            param.requires_grad_(False)
        get_root_logger().info('PDD static mode: the frozen generalist is net_g_fix.')

    @property
    def generalist(self) -> nn.Module:
        return self.net_g_ema if self.use_net_g_ema else self.net_g_fix

    def feed_data(self, data: dict, t_data: Optional[dict] = None) -> None:
        """Training: a merged batch (`lq_s`, `gt_s`, `lq_t`) or the authors' (s_data, t_data); else lq/gt."""
        if t_data is not None:
            data = {**{f'{k}_s': v for k, v in data.items()}, **{f'{k}_t': v for k, v in t_data.items()}}
        if 'lq_s' not in data:
            super().feed_data(data)
            return
        self.lq_s = data['lq_s'].to(self.device)
        self.gt_s = data['gt_s'].to(self.device)
        self.lq_t = data['lq_t'].to(self.device)

    def distillation_active(self, current_iter: int) -> bool:
        return current_iter > self.domain_opt_warmup_iters

    def no_grad(self) -> AbstractContextManager:
        """inference_mode where the switch allows (no version counters, no view tracking), else no_grad."""
        return torch.inference_mode() if self.perf.inference_mode else torch.no_grad()

    def generator_forward(self, current_iter: int, train_g: bool) -> None:
        """net_g over [lq_s; lq_t] in one call; the generalist too, without gradients, when the distillation runs."""
        lq = torch.cat([self.lq_s, self.lq_t], dim=0)
        sizes = [self.lq_s.shape[0], self.lq_t.shape[0]]
        self.ref_s = self.ref_t = None
        needs_generalist = self.cri_domain is not None or self.cri_nd is not None
        if train_g and needs_generalist and self.distillation_active(current_iter):
            with self.no_grad():
                self.ref_s, self.ref_t = self.generalist(lq).split(sizes, dim=0)
        self.output = self.net_g(lq)
        self.output_s, self.output_t = self.output.split(sizes, dim=0)

    def generator_losses(self, current_iter: int, loss_dict: OrderedDict) -> Tensor:
        """Distillation (after its warm-up), pixel, perceptual and GAN terms of the specialist."""
        distill = self.distillation_active(current_iter)
        bank = self.vgg_passes.run(self.feature_needs(distill), self.feature_images())
        terms = self.feature_loss_terms(bank, distill)
        if self.cri_pix is not None:
            terms['l_g_pix'] = self.cri_pix(self.output_s, self.gt_s)
        fake = self.output_s if (self.domain_opt_wogan or not distill) else self.output
        terms['l_g_gan'] = self.cri_gan(self.net_d(fake), True, is_disc=False)
        loss_dict.update(terms)
        return sum(terms.values())

    def feature_needs(self, distill: bool) -> list[FeatureNeed]:
        """The VGG features each active feature loss needs; the distillation's synthetic output is detached if asked."""
        needs = []
        if distill and self.cri_domain is not None:
            vgg, layers = self.cri_domain.vgg, tuple(self.cri_domain.layers)
            needs += [
                FeatureNeed(vgg, layers, 'out_t', True),
                FeatureNeed(vgg, layers, 'ref_t', False),
                FeatureNeed(vgg, layers, 'out_s', not self.domain_opt_detach),
                FeatureNeed(vgg, layers, 'ref_s', False),
            ]
        if distill and self.cri_nd is not None:
            vgg, layers = self.cri_nd.vgg, tuple(self.cri_nd.layers)
            needs += [FeatureNeed(vgg, layers, 'out_t', True), FeatureNeed(vgg, layers, 'ref_t', False)]
        if self.cri_perceptual is not None:
            vgg, layers = self.cri_perceptual.vgg, tuple(self.cri_perceptual.layer_weights)
            needs += [FeatureNeed(vgg, layers, 'out_s', True), FeatureNeed(vgg, layers, 'gt', False)]
        return needs

    def feature_images(self) -> dict[str, Optional[Tensor]]:
        return {
            'out_s': self.output_s,
            'out_t': self.output_t,
            'ref_s': self.ref_s,
            'ref_t': self.ref_t,
            'gt': self.gt_s,
        }

    def feature_loss_terms(self, bank: FeatureBank, distill: bool) -> OrderedDict:
        """L_inter, L_intra, L_nd and the perceptual/style losses from the shared features (None terms left out)."""
        terms: OrderedDict = OrderedDict()
        if distill and self.cri_domain is not None:
            vgg = self.cri_domain.vgg
            synthetic = bank.get(vgg, 'out_s')
            if self.domain_opt_detach:
                synthetic = {layer: value.detach() for layer, value in synthetic.items()}
            terms['l_inter'], terms['l_intra'] = self.cri_domain.forward_features(
                bank.get(vgg, 'out_t'), bank.get(vgg, 'ref_t'), synthetic, bank.get(vgg, 'ref_s')
            )
        if distill and self.cri_nd is not None:
            vgg = self.cri_nd.vgg
            terms['l_nd'] = self.cri_nd.forward_features(bank.get(vgg, 'out_t'), bank.get(vgg, 'ref_t'))
        if self.cri_perceptual is not None:
            vgg = self.cri_perceptual.vgg
            terms['l_g_percep'], terms['l_g_style'] = self.cri_perceptual.forward_features(
                bank.get(vgg, 'out_s'), bank.get(vgg, 'gt')
            )
        return OrderedDict((name, value) for name, value in terms.items() if value is not None)

    def discriminator_pair(self) -> tuple[Tensor, Tensor]:
        return self.gt_s, self.output_s
