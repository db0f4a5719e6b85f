"""SRModel: a single generator trained with pixel/perceptual losses, validated with configured metrics."""

from collections import OrderedDict
from os import path as osp
from typing import Optional

import torch
from tqdm import tqdm

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.metrics import calculate_metric
from basicsr.models.base_model import BaseModel
from basicsr.utils.crop_grid import crop, crop_box, make_grid
from basicsr.utils.img_util import imwrite, tensor2img
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class SRModel(BaseModel):
    """Base SR model for single image super-resolution."""

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        self.net_g = self.model_to_device(build_network(opt['network_g']), compile_net=self.is_train)
        self.print_network(self.net_g)
        self._load_pretrained(self.net_g, 'g')
        if self.is_train:
            self.init_training_settings()

    def init_training_settings(self) -> None:
        self.net_g.train()
        train_opt = self.opt['train']
        self.ema_decay = train_opt.get('ema_decay', 0) or 0
        if self.ema_decay > 0:
            self.setup_ema()
        self.cri_pix = self.build_optional_loss(train_opt, 'pixel_opt')
        self.cri_perceptual = self.build_optional_loss(train_opt, 'perceptual_opt')
        if self.cri_pix is None and self.cri_perceptual is None:
            raise ValueError('train.pixel_opt and train.perceptual_opt are both missing: the generator has no loss.')
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_ema(self) -> None:
        """Create net_g_ema: loaded from `pretrain_network_g` (`params_ema`) when given, else a copy of net_g."""
        get_root_logger().info(f'Use Exponential Moving Average with decay: {self.ema_decay}')
        self.net_g_ema = build_network(self.opt['network_g']).to(self.device)
        load_path = (self.opt.get('path') or {}).get('pretrain_network_g')
        if load_path is not None:
            self.load_network(self.net_g_ema, load_path, self.opt['path'].get('strict_load_g', True), 'params_ema')
        else:
            self.model_ema(0)
        self.net_g_ema.eval()
        for param in self.net_g_ema.parameters():
            param.requires_grad_(False)

    def build_optional_loss(self, train_opt: dict, key: str):
        """Build `train.<key>` if present (and not ~), on the model's device (its VGG channels-last if asked)."""
        return self.to_memory_format(build_loss(train_opt[key]).to(self.device)) if train_opt.get(key) else None

    def setup_optimizers(self) -> None:
        self.optimizer_g = self.make_optimizer(self.net_g, self.opt['train']['optim_g'])
        self.optimizers.append(self.optimizer_g)

    def make_optimizer(self, net, optim_opt: dict) -> torch.optim.Optimizer:
        """An optimizer over the trainable parameters of `net`; frozen ones are logged."""
        params = []
        for name, param in net.named_parameters():
            if param.requires_grad:
                params.append(param)
            else:
                get_root_logger().warning(f'Params {name} will not be optimized.')
        kwargs = dict(optim_opt)
        return self.get_optimizer(kwargs.pop('type'), params, **kwargs)

    def feed_data(self, data: dict) -> None:
        self.lq = data['lq'].to(self.device)
        if 'gt' in data:
            self.gt = data['gt'].to(self.device)

    def loss_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The targets of the pixel and the perceptual loss (Real-ESRGAN models may use sharpened GT)."""
        return self.gt, self.gt

    def supervised_losses(
        self,
        output: torch.Tensor,
        gt: torch.Tensor,
        loss_dict: OrderedDict,
        prefix: str = 'l',
        percep_gt: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Pixel loss against `gt`, perceptual(+style) against `percep_gt` (default `gt`), recorded in `loss_dict`."""
        terms = OrderedDict()
        if self.cri_pix is not None:
            terms[f'{prefix}_pix'] = self.cri_pix(output, gt)
        if self.cri_perceptual is not None:
            percep, style = self.cri_perceptual(output, gt if percep_gt is None else percep_gt)
            terms.update(
                (name, value)
                for name, value in ((f'{prefix}_percep', percep), (f'{prefix}_style', style))
                if value is not None
            )
        loss_dict.update(terms)
        return sum(terms.values())

    def optimize_parameters(self, current_iter: int) -> None:
        """One micro-batch: forward (autocast if asked), the supervised losses, backward; G steps on the last."""
        self.training_step.zero_grad(self.optimizer_g)
        loss_dict = OrderedDict()
        with self.training_step.autocast():
            self.output = self.net_g(self.lq)
            pix_gt, percep_gt = self.loss_targets()
            l_total = self.supervised_losses(self.output, pix_gt, loss_dict, percep_gt=percep_gt)
        self.backward_and_step(l_total, self.optimizer_g, self.net_g, 'net_g', loss_dict, current_iter)
        self.end_iteration(loss_dict)

    def test(self) -> None:
        """Inference on `self.lq` with net_g_ema when it exists, else net_g in eval mode."""
        net = getattr(self, 'net_g_ema', None)
        if net is None:
            net = self.net_g
            net.eval()
        with torch.no_grad():
            self.output = net(self.lq)
        if net is self.net_g and self.is_train:
            self.net_g.train()

    def get_current_visuals(self) -> OrderedDict:
        out_dict = OrderedDict(lq=self.lq.detach().cpu(), result=self.output.detach().cpu())
        if hasattr(self, 'gt'):
            out_dict['gt'] = self.gt.detach().cpu()
        return out_dict

    def nondist_validation(self, dataloader, current_iter: int, tb_logger, save_img: bool) -> None:
        """Run the model over `dataloader`, average the metrics, track the best values, save/log images."""
        dataset_name = dataloader.dataset.opt['name']
        val_opt = self.opt.get('val') or {}
        metrics_opt = val_opt.get('metrics')
        if metrics_opt:
            self.metric_results = {metric: 0 for metric in metrics_opt}
            self._initialize_best_metric_results(dataset_name)
        self.per_image_metrics: list[tuple[str, dict]] = []
        pbar = tqdm(total=len(dataloader), unit='image') if val_opt.get('pbar', False) else None
        count = 0
        for idx, val_data in enumerate(dataloader):
            img_name = osp.splitext(osp.basename(val_data['lq_path'][0]))[0]
            lq_img, sr_img, gt_img = self.validate_one(val_data)
            if save_img:
                imwrite(sr_img, self.validation_image_path(img_name, dataset_name, current_iter))
            if tb_logger is not None and idx < val_opt.get('max_tb_images', 4):
                self.log_tb_images(tb_logger, f'{dataset_name}/{img_name}', lq_img, sr_img, gt_img, current_iter)
            if metrics_opt:
                values = {
                    name: float(calculate_metric({'img': sr_img, 'img2': gt_img}, opt_))
                    for name, opt_ in metrics_opt.items()
                }
                for name, value in values.items():
                    self.metric_results[name] += value
                self.per_image_metrics.append((img_name, values))
            count += 1
            if pbar is not None:
                pbar.update(1)
                pbar.set_description(f'Test {img_name}')
        if pbar is not None:
            pbar.close()
        if metrics_opt:
            for metric in self.metric_results:
                self.metric_results[metric] /= max(count, 1)
                self._update_best_metric_result(dataset_name, metric, self.metric_results[metric], current_iter)
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)

    def validate_one(self, val_data: dict):
        """Feed, test and convert one validation sample to uint8 BGR images (lq, result, gt or None)."""
        self.feed_data(val_data)
        self.test()
        visuals = self.get_current_visuals()
        lq_img, sr_img = tensor2img([visuals['lq']]), tensor2img([visuals['result']])
        gt_img = tensor2img([visuals['gt']]) if 'gt' in visuals else None
        self.lq = self.output = None
        if hasattr(self, 'gt'):
            del self.gt
        return lq_img, sr_img, gt_img

    @staticmethod
    def log_tb_images(tb_logger, tag: str, lq_img, sr_img, gt_img, current_iter) -> None:
        """The whole SR image, and a centre-crop strip LR (nearest) | SR | GT, as tensorboard images."""
        tb_logger.add_image(f'val/{tag}', sr_img[..., ::-1].copy(), current_iter, dataformats='HWC')
        scale = max(sr_img.shape[0] // max(lq_img.shape[0], 1), 1)
        box = crop_box(*sr_img.shape[:2], size=128, multiple=scale)
        cells = [crop(lq_img, box, scale), crop(sr_img, box)] + ([crop(gt_img, box)] if gt_img is not None else [])
        strip = make_grid([cells], ['LR', 'SR', 'GT'][: len(cells)])
        tb_logger.add_image(f'val_crops/{tag}', strip[..., ::-1].copy(), current_iter, dataformats='HWC')

    def validation_image_path(self, img_name: str, dataset_name: str, current_iter: int) -> str:
        vis_root = self.opt['path']['visualization']
        if self.is_train:
            return osp.join(vis_root, img_name, f'{img_name}_{current_iter}.png')
        suffix = (self.opt.get('val') or {}).get('suffix') or self.opt.get('name', 'result')
        return osp.join(vis_root, dataset_name, f'{img_name}_{suffix}.png')

    def _log_validation_metric_values(self, current_iter: int, dataset_name: str, tb_logger) -> None:
        log_str = f'Validation {dataset_name}\n'
        for metric, value in self.metric_results.items():
            log_str += f'\t # {metric}: {value:.4f}'
            if hasattr(self, 'best_metric_results'):
                best = self.best_metric_results[dataset_name][metric]
                log_str += f'\tBest: {best["val"]:.4f} @ {best["iter"]} iter'
            log_str += '\n'
        get_root_logger().info(log_str)
        if tb_logger is not None:
            for metric, value in self.metric_results.items():
                tb_logger.add_scalar(f'metrics/{dataset_name}/{metric}', value, current_iter)

    def save(self, epoch: int, current_iter: int) -> None:
        if hasattr(self, 'net_g_ema'):
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)
        self.save_training_state(epoch, current_iter)
