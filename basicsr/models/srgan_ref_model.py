"""SRGANRefModel: Pairwise Distance Distillation (Zhang, Lee, Yao, ECCV 2024, arXiv 2407.07302).

The specialist `net_g` is adapted to a real-world target domain from two streams per step: synthetic pairs
(`lq_s`, `gt_s`) and unpaired real LR (`lq_t`). A generalist that never receives gradients (the EMA of net_g in EMA
mode, a frozen `net_g_fix` in static mode) provides the reference distances for the DistillationLoss.
"""
from collections import OrderedDict
from typing import Optional

import torch
from torch import nn

from basicsr.archs import build_network
from basicsr.models.pdd_checks import check_pdd_options, is_ema_mode
from basicsr.models.pdd_fast_step import PDDFastStep
from basicsr.models.srgan_model import SRGANModel, set_requires_grad
from basicsr.utils.logger import get_root_logger
from basicsr.utils.precision_util import EXACT_PERF, PERF_OFF
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class SRGANRefModel(SRGANModel):
    """SRGAN on the synthetic stream plus distance distillation between the synthetic and the real stream."""

    perf_defaults = EXACT_PERF  # train.perf: the exact speed-ups are on unless the file turns them off

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
        self.fast_step = None if self.perf == PERF_OFF else PDDFastStep(self, self.perf)

    def optimize_parameters(self, current_iter: int) -> None:
        """The step with the `train.perf` switches (basicsr/models/pdd_fast_step.py); the plain one if all are off."""
        if self.fast_step is None:
            super().optimize_parameters(current_iter)
        else:
            self.fast_step.optimize_parameters(current_iter)

    def freeze_backbone(self) -> None:
        """`train.fix_backbone`: train only the reconstruction head; the feature trunk (`body`) stays as loaded."""
        body = getattr(self.get_bare_model(self.net_g), 'body', None)
        if body is None:
            raise ValueError(f"train.fix_backbone: {self.opt['network_g']['type']} has no `body` trunk to freeze.")
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

    def forward_both_streams(self) -> None:
        """One batched call per network over [lq_s; lq_t]; the generalist runs without gradients."""
        lq = torch.cat([self.lq_s, self.lq_t], dim=0)
        sizes = [self.lq_s.shape[0], self.lq_t.shape[0]]
        with torch.no_grad():
            self.ref_s, self.ref_t = self.generalist(lq).split(sizes, dim=0)
        self.output_s, self.output_t = self.net_g(lq).split(sizes, dim=0)

    def optimize_generator(self, current_iter: int, loss_dict: OrderedDict) -> None:
        set_requires_grad(self.net_d, False)
        self.optimizer_g.zero_grad(set_to_none=True)
        self.forward_both_streams()
        if self.generator_turn(current_iter):
            l_g_total = self.generator_losses(current_iter, loss_dict)
            self.backward_and_step(l_g_total, self.optimizer_g, loss_dict, current_iter, 'G')

    def distillation_losses(self, loss_dict: OrderedDict) -> torch.Tensor:
        """PDD's inter/intra terms (and the ND ablation) on the outputs of both streams."""
        total = self.output_t.new_zeros(())
        synthetic = self.output_s.detach() if self.domain_opt_detach else self.output_s
        if self.cri_domain is not None:
            l_inter, l_intra = self.cri_domain(self.output_t, self.ref_t.detach(), synthetic, self.ref_s.detach())
            for name, value in (('l_inter', l_inter), ('l_intra', l_intra)):
                if value is not None:
                    total = total + value
                    loss_dict[name] = value
        if self.cri_nd is not None:
            l_nd = self.cri_nd(self.output_t, self.ref_t.detach())
            total = total + l_nd
            loss_dict['l_nd'] = l_nd
        return total

    def generator_losses(self, current_iter: int, loss_dict: OrderedDict) -> torch.Tensor:
        total = self.output_s.new_zeros(())
        distill = self.distillation_active(current_iter)
        if distill:
            total = total + self.distillation_losses(loss_dict)
        total = total + self.supervised_losses(self.output_s, self.gt_s, loss_dict, prefix='l_g')
        fake = self.output_s if (self.domain_opt_wogan or not distill) else torch.cat([self.output_s, self.output_t])
        l_g_gan = self.cri_gan(self.net_d(fake), True, is_disc=False)
        loss_dict['l_g_gan'] = l_g_gan
        return total + l_g_gan

    def discriminator_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gt_s, self.output_s
