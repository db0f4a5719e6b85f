"""BaseModel: device placement, EMA, optimizers/schedulers, network and training-state I/O, validation bookkeeping."""

import contextlib
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Callable, Optional, Union

import torch
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel

from basicsr.models.nan_guard import NanGuard
from basicsr.models.optim_factory import OPTIMIZERS, build_optimizer, build_scheduler, speed_kwargs
from basicsr.models.perf_options import PerfOptions, resolve_perf, switches_summary
from basicsr.models.training_step import TrainingStep
from basicsr.utils.checkpoint_util import (
    atomic_save_network,
    atomic_torch_save,
    atomic_write_text,
    checkpoint_extension,
    load_state_into,
    prune_checkpoints,
    read_network_file,
)
from basicsr.utils.device_util import select_device
from basicsr.utils.dist_util import master_only
from basicsr.utils.logger import get_root_logger
from basicsr.utils.rng_util import capture_rng_state, restore_rng_state


class BaseModel:
    """Behaviour shared by every model; subclasses define networks, losses and the optimisation step."""

    perf_defaults = PerfOptions()  # `train.perf` switches and their defaults; subclasses may add their own

    def __init__(self, opt: dict) -> None:
        self.opt = opt
        self.device = select_device(opt)
        self.is_train = opt.get('is_train', 'train' in opt)
        self.perf = self.perf_defaults
        if self.is_train:
            self.perf, problems = type(self).resolve_perf(opt, self.device.type)
            if problems:
                raise ValueError('Performance options:\n  - ' + '\n  - '.join(problems))
            get_root_logger().info(f'Training switches: {switches_summary(self.perf)}')
        self.schedulers: list = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self.log_dict: OrderedDict = OrderedDict()
        self.nan_guard = NanGuard(**((opt.get('train') or {}).get('nan_guard') or {}))
        self.training_step = TrainingStep(self.perf, self.device, self.nan_guard)
        self.state_providers: dict[str, Callable[[], Any]] = {}

    @classmethod
    def trained_networks(cls, opt: dict) -> tuple[str, ...]:
        """The networks this model's optimisers train (the names `train.grad_clip` may use)."""
        return ('net_g',)

    @classmethod
    def resolve_perf(cls, opt: dict, device_type: str) -> tuple[PerfOptions, list[str]]:
        """The training switches `opt` asks of this model, and every problem with them (for up-front validation)."""
        perf, problems = resolve_perf(opt, cls.perf_defaults, cls.trained_networks(opt), device_type)
        owner = next(klass for klass in cls.__mro__ if 'optimize_parameters' in vars(klass))
        needs_our_step = [
            name for name, off in (('amp', None), ('accum_iter', 1), ('grad_clip', {})) if getattr(perf, name) != off
        ]
        if needs_our_step and not owner.__module__.startswith('basicsr.'):
            problems.append(
                f'{", ".join(needs_our_step)}: {cls.__name__} runs its own optimize_parameters '
                f"({owner.__module__}.{owner.__qualname__}), which does not use basicsr's training step; "
                'use a basicsr model type (e.g. the *_basicsr registration) or remove these switches'
            )
        return perf, problems

    @classmethod
    def unused_networks(cls, opt: dict) -> set[str]:
        """`network_*` blocks of `opt` this model never builds (their weight paths are not checked)."""
        return set()

    @classmethod
    def unsaved_networks(cls, opt: dict) -> set[str]:
        """`network_*` blocks whose weights are inputs, never written to checkpoints (a resume reloads them)."""
        return set()

    # ----- interface implemented by subclasses -----
    def feed_data(self, data: dict) -> None:
        raise NotImplementedError

    def optimize_parameters(self, current_iter: int) -> None:
        raise NotImplementedError

    def get_current_visuals(self) -> OrderedDict:
        raise NotImplementedError

    def save(self, epoch: int, current_iter: int) -> None:
        raise NotImplementedError

    # ----- validation -----
    def validation(self, dataloader, current_iter: int, tb_logger=None, save_img: bool = False) -> None:
        """Validate on `dataloader`; distributed runs use `dist_validation`."""
        if self.opt.get('dist'):
            self.dist_validation(dataloader, current_iter, tb_logger, save_img)
        else:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def dist_validation(self, dataloader, current_iter: int, tb_logger, save_img: bool) -> None:
        if self.opt.get('rank', 0) == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def nondist_validation(self, dataloader, current_iter: int, tb_logger, save_img: bool) -> None:
        raise NotImplementedError

    def _initialize_best_metric_results(self, dataset_name: str) -> None:
        """Start best-value records for each configured metric, respecting whether higher or lower is better."""
        from basicsr.metrics import metric_better

        if not hasattr(self, 'best_metric_results'):
            self.best_metric_results: dict = {}
        if dataset_name in self.best_metric_results:
            return
        record = {}
        for metric, content in self.opt['val']['metrics'].items():
            better = metric_better(content)
            record[metric] = dict(better=better, val=float('-inf') if better == 'higher' else float('inf'), iter=-1)
        self.best_metric_results[dataset_name] = record

    def _update_best_metric_result(self, dataset_name: str, metric: str, val: float, current_iter: int) -> None:
        best = self.best_metric_results[dataset_name][metric]
        improved = val >= best['val'] if best['better'] == 'higher' else val <= best['val']
        if improved:
            best['val'] = val
            best['iter'] = current_iter

    # ----- one iteration -----
    @contextlib.contextmanager
    def micro_batch(self, index: int) -> Iterator[None]:
        """Run micro-batch `index` of an iteration: DDP gradient sync only on the last one (`accum_iter`)."""
        self.training_step.begin(index)
        with contextlib.ExitStack() as stack:
            if not self.training_step.last:
                for net in self.networks():
                    if isinstance(net, DistributedDataParallel):
                        stack.enter_context(net.no_sync())
            yield

    def networks(self) -> list[nn.Module]:
        """The model's networks as attributes `net_*`, wrapped or not."""
        return [value for name, value in vars(self).items() if name.startswith('net_') and isinstance(value, nn.Module)]

    def end_iteration(self, loss_dict: OrderedDict) -> None:
        """After each micro-batch: record its losses; after the last: log their means, update the EMA."""
        means = self.training_step.end_micro_batch(loss_dict)
        if means is None:
            return
        self.log_dict = self.reduce_loss_dict(means)
        if getattr(self, 'ema_decay', 0) > 0:
            self.model_ema(decay=self.ema_decay)

    def backward_and_step(
        self,
        loss: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        net: nn.Module,
        net_name: str,
        loss_dict: OrderedDict,
        current_iter: int,
    ) -> None:
        """Backpropagate this micro-batch's `loss`; on the iteration's last micro-batch step `optimizer`."""
        self.training_step.backward(loss, net_name, loss_dict, current_iter)
        self.training_step.step(optimizer, net, net_name, loss_dict, current_iter)

    # ----- networks -----
    def model_ema(self, decay: float = 0.999) -> None:
        """net_g_ema <- decay * net_g_ema + (1 - decay) * net_g, over parameters (BasicSR's EMA); with `foreach_ema`
        as two multi-tensor operations, the same arithmetic."""
        sources = dict(self.get_bare_model(self.net_g).named_parameters())
        pairs = [(param, sources[name].detach()) for name, param in self.net_g_ema.named_parameters()]
        with torch.no_grad():
            if self.perf.foreach_ema:
                targets = [target for target, _ in pairs]
                torch._foreach_mul_(targets, decay)
                torch._foreach_add_(targets, [source for _, source in pairs], alpha=1 - decay)
                return
            for target, source in pairs:
                target.mul_(decay).add_(source, alpha=1 - decay)

    def get_current_log(self) -> OrderedDict:
        return self.log_dict

    def model_to_device(self, net: nn.Module, compile_net: bool = False) -> nn.Module:
        """Move `net` to the model's device (channels-last if asked), compile it when `compile_net` and the
        `compile` switch say so, and wrap it for DDP or DataParallel when asked."""
        net = self.to_memory_format(net.to(self.device))
        if compile_net and self.perf.compile:
            net.compile(mode=None if self.perf.compile is True else self.perf.compile)
        if self.opt.get('dist'):
            device_ids = [torch.cuda.current_device()] if self.device.type == 'cuda' else None
            net = DistributedDataParallel(
                net, device_ids=device_ids, find_unused_parameters=self.opt.get('find_unused_parameters', False)
            )
            if self.opt.get('use_static_graph'):
                net._set_static_graph()
        elif self.device.type == 'cuda' and self.opt.get('num_gpu', 1) > 1:
            net = DataParallel(net)
        return net

    def to_memory_format(self, module: nn.Module) -> nn.Module:
        """`module`'s 4-D parameters in channels-last when the switch is on (in place; returns `module`)."""
        return module.to(memory_format=torch.channels_last) if self.perf.channels_last else module

    @staticmethod
    def get_bare_model(net: nn.Module) -> nn.Module:
        """Unwrap DataParallel / DDP."""
        if isinstance(net, (DataParallel, DistributedDataParallel)):
            return net.module
        return net

    @master_only
    def print_network(self, net: nn.Module) -> None:
        bare = self.get_bare_model(net)
        n_params = sum(p.numel() for p in bare.parameters())
        get_root_logger().info(f'Network: {bare.__class__.__name__}, with parameters: {n_params:,d}')
        get_root_logger().debug(str(bare))

    # ----- optimizers and learning rate -----
    def get_optimizer(self, optim_type: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
        """Build the optimizer; `train.perf.fused_optimizer` adds fused/foreach kernels unless the block chooses."""
        if optim_type in OPTIMIZERS and self.perf.fused_optimizer:
            kwargs = {**speed_kwargs(OPTIMIZERS[optim_type]), **kwargs}
        return build_optimizer(optim_type, params, lr, **kwargs)

    def setup_schedulers(self) -> None:
        train_opt = self.opt['train']
        if train_opt.get('scheduler') is None:
            return
        for optimizer in self.optimizers:
            self.schedulers.append(build_scheduler(optimizer, train_opt['scheduler']))

    def _set_lr(self, lr_groups_l: list[list[float]]) -> None:
        for optimizer, lr_groups in zip(self.optimizers, lr_groups_l):
            for param_group, lr in zip(optimizer.param_groups, lr_groups):
                param_group['lr'] = lr

    def _get_init_lr(self) -> list[list[float]]:
        return [[group['initial_lr'] for group in optimizer.param_groups] for optimizer in self.optimizers]

    def update_learning_rate(self, current_iter: int, warmup_iter: int = -1) -> None:
        """Step schedulers, then apply BasicSR's linear warm-up over the first `warmup_iter` iterations.

        Warm-up overwrites the groups' lr; before each scheduler step the scheduler's own value is put back, so
        chained schedulers (MultiStepLR) continue from the scheduled lr rather than from the last warm-up value
        (BasicSR 1.4 stays at (warmup_iter - 1) / warmup_iter of the lr until the first milestone).
        """
        if current_iter > 1:
            if current_iter - 1 < warmup_iter:
                self._set_lr([scheduler.get_last_lr() for scheduler in self.schedulers])
            self._step_schedulers()
        if current_iter < warmup_iter:
            init_lr_g_l = self._get_init_lr()
            self._set_lr([[v / warmup_iter * current_iter for v in group] for group in init_lr_g_l])

    def _step_schedulers(self) -> None:
        """Step every scheduler once per iteration, as BasicSR does, even for an optimiser that has not stepped yet
        (G during a D-only warm-up, `net_d_init_iters`): PyTorch's warning about that order is expected here."""
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=r'Detected call of `lr_scheduler\.step\(\)` before')
            for scheduler in self.schedulers:
                scheduler.step()

    def get_current_learning_rate(self) -> list[float]:
        return [param_group['lr'] for param_group in self.optimizers[0].param_groups]

    # ----- files -----
    @master_only
    def save_network(
        self, net: Union[nn.Module, list], net_label: str, current_iter: int, param_key: Union[str, list] = 'params'
    ) -> None:
        """Atomically write `{net_label}_{iter}.pth` (or `.safetensors`, `logger.save_checkpoint_format`) holding
        `{param_key: state_dict}` (several keys for a list)."""
        current_iter = 'latest' if current_iter == -1 else current_iter
        file_name = f'{net_label}_{current_iter}{checkpoint_extension(self.opt)}'
        save_path = os.path.join(self.opt['path']['models'], file_name)
        nets = net if isinstance(net, list) else [net]
        keys = param_key if isinstance(param_key, list) else [param_key]
        if len(nets) != len(keys):
            raise ValueError('save_network needs one param_key per network.')
        save_dict = {}
        for net_, key in zip(nets, keys):
            state_dict = self.get_bare_model(net_).state_dict()
            save_dict[key] = OrderedDict(
                (k[7:] if k.startswith('module.') else k, v.cpu()) for k, v in state_dict.items()
            )
        atomic_save_network(save_dict, save_path)

    def load_network(
        self, net: nn.Module, load_path: str, strict: bool = True, param_key: Optional[str] = 'params'
    ) -> None:
        """Load `.pth` / `.safetensors` weights (param_key with fallbacks, `module.` stripped); report mismatched keys,
        fail if strict."""
        logger = get_root_logger()
        net = self.get_bare_model(net)
        state_dict = read_network_file(load_path, param_key)
        logger.info(f'Loading {net.__class__.__name__} model from {load_path}, with param key: [{param_key}].')
        report = load_state_into(net, state_dict, strict=strict, source=load_path)
        for line in report:
            logger.warning(f'Loading {load_path} (strict_load: false): {line}')

    def _load_pretrained(self, net: nn.Module, label: str) -> None:
        """Load `path.pretrain_network_<label>` if set, with `param_key_<label>` / `strict_load_<label>`."""
        path_opt = self.opt.get('path') or {}
        load_path = path_opt.get(f'pretrain_network_{label}')
        if load_path is not None:
            self.load_network(
                net, load_path, path_opt.get(f'strict_load_{label}', True), path_opt.get(f'param_key_{label}', 'params')
            )

    def training_state(self, epoch: int, current_iter: int) -> dict[str, Any]:
        """Everything beyond the network files that a resume needs, RNG states and registered extras included."""
        state = {
            'epoch': epoch,
            'iter': current_iter,
            'optimizers': [o.state_dict() for o in self.optimizers],
            'schedulers': [s.state_dict() for s in self.schedulers],
            'rng': capture_rng_state(),
        }
        state.update({name: provide() for name, provide in self.state_providers.items()})
        return state

    @master_only
    def save_training_state(self, epoch: int, current_iter: int) -> None:
        """Atomically write `training_states/<iter>.state` and the `latest` pointer, then apply `keep_last`."""
        if current_iter == -1:
            return
        folder = self.opt['path']['training_states']
        atomic_torch_save(self.training_state(epoch, current_iter), os.path.join(folder, f'{current_iter}.state'))
        atomic_write_text(os.path.join(folder, 'latest'), f'{current_iter}\n')
        keep_last = (self.opt.get('logger') or {}).get('keep_last')
        if keep_last:
            prune_checkpoints(self.opt['path'], keep_last)

    def resume_training(self, resume_state: dict) -> None:
        """Restore optimizer and scheduler states from a training state."""
        resume_optimizers = resume_state['optimizers']
        resume_schedulers = resume_state['schedulers']
        if len(resume_optimizers) != len(self.optimizers) or len(resume_schedulers) != len(self.schedulers):
            raise ValueError(
                f'Training state has {len(resume_optimizers)} optimizers / {len(resume_schedulers)} '
                f'schedulers but the model has {len(self.optimizers)} / {len(self.schedulers)}.'
            )
        for optimizer, state in zip(self.optimizers, resume_optimizers):
            optimizer.load_state_dict(state)
        for scheduler, state in zip(self.schedulers, resume_schedulers):
            scheduler.load_state_dict(state)
        if 'rng' in resume_state:
            restore_rng_state(resume_state['rng'])

    def reduce_loss_dict(self, loss_dict: OrderedDict) -> OrderedDict:
        """Average losses over ranks (for logging) and turn them into Python floats, all tensors through one
        device-to-host copy (one GPU sync per step instead of one per logged value)."""
        with torch.no_grad():
            if self.opt.get('dist'):
                keys = list(loss_dict)
                losses = torch.stack([loss_dict[k].detach().float().reshape(()) for k in keys])
                torch.distributed.reduce(losses, dst=0)
                if self.opt.get('rank', 0) == 0:
                    losses /= self.opt['world_size']
                loss_dict = OrderedDict(zip(keys, losses))
            tensors = {name: value for name, value in loss_dict.items() if torch.is_tensor(value)}
            floats = {}
            if tensors:
                device = next(iter(tensors.values())).device
                means = [value.detach().mean().double().to(device) for value in tensors.values()]
                floats = dict(zip(tensors, torch.stack(means).tolist()))
            return OrderedDict(
                (name, floats[name] if name in floats else float(value)) for name, value in loss_dict.items()
            )
