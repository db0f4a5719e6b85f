"""Training entry point: `python basicsr/train.py -opt options/x.yml [--launcher pytorch] [--auto_resume]`."""
import logging
import sys
from os import path as osp
from typing import Optional

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), osp.pardir)))

import torch  # noqa: E402

from basicsr.data import build_dataloader, build_dataset  # noqa: E402
from basicsr.data.data_sampler import EnlargedSampler  # noqa: E402
from basicsr.data.train_stream import TrainStream, epochs_for  # noqa: E402
from basicsr.models import build_model  # noqa: E402
from basicsr.utils.logger import (AvgTimer, MessageLogger, get_env_info, get_root_logger, init_tb_logger,  # noqa: E402
                                  init_wandb_logger)
from basicsr.utils.misc import get_time_str, make_exp_dirs, mkdir_and_rename, set_random_seed  # noqa: E402
from basicsr.utils.options import copy_opt_file, dict2str, parse_options  # noqa: E402
from basicsr.utils.device_util import select_device  # noqa: E402
from basicsr.utils.resume_util import apply_resume, find_resume_state  # noqa: E402

TRAIN_STREAM_KEYS = ('train', 'train_s', 'train_t')


def init_tb_loggers(opt: dict):
    """Tensorboard writer under `tb_logger/<name>` (and wandb when configured), skipped for debug runs."""
    logger_opt = opt.get('logger') or {}
    if logger_opt.get('wandb') and logger_opt['wandb'].get('project') and 'debug' not in opt['name']:
        if not logger_opt.get('use_tb_logger'):
            raise ValueError('logger.wandb needs logger.use_tb_logger: true (wandb mirrors tensorboard).')
        init_wandb_logger(opt)
    if logger_opt.get('use_tb_logger') and 'debug' not in opt['name']:
        return init_tb_logger(log_dir=osp.join(opt['root_path'], 'tb_logger', opt['name']))
    return None


def build_train_stream(opt: dict, key: str, start_epoch: int) -> TrainStream:
    """Dataset, sharding sampler, loader and prefetcher for one training stream."""
    dataset_opt = opt['datasets'][key]
    train_set = build_dataset(dataset_opt)
    sampler = EnlargedSampler(train_set, opt['world_size'], opt['rank'], dataset_opt.get('dataset_enlarge_ratio', 1))
    loader = build_dataloader(train_set, dataset_opt, num_gpu=opt['num_gpu'], dist=opt['dist'], sampler=sampler,
                              seed=opt['manual_seed'])
    if len(loader) == 0:
        raise ValueError(f'datasets.{key}: {len(train_set)} images are fewer than one batch of '
                         f'{dataset_opt.get("batch_size_per_gpu")}; lower batch_size_per_gpu or add images.')
    get_root_logger().info(f'Training stream {key}: {len(train_set)} images, enlarge ratio '
                           f'{dataset_opt.get("dataset_enlarge_ratio", 1)}, {len(loader)} iters per epoch.')
    return TrainStream(loader, sampler, dataset_opt.get('prefetch_mode'), opt, start_epoch)


def build_val_loaders(opt: dict) -> list:
    loaders = []
    for key, dataset_opt in opt['datasets'].items():
        if key.split('_')[0] == 'val':
            val_set = build_dataset(dataset_opt)
            loaders.append(build_dataloader(val_set, dataset_opt, num_gpu=opt['num_gpu'], dist=opt['dist'],
                                            sampler=None, seed=opt['manual_seed']))
            get_root_logger().info(f'Number of val images/folders in {dataset_opt["name"]}: {len(val_set)}')
    return loaders


class TrainBatches:
    """One batch per iteration: a single `train` stream, or PDD's `train_s` (synthetic pairs) + `train_t` (real LR)."""

    def __init__(self, opt: dict, start_epoch: int) -> None:
        keys = [k for k in TRAIN_STREAM_KEYS if k in opt['datasets']]
        if keys not in (['train'], ['train_s', 'train_t']):
            raise ValueError(f'datasets: need either `train` or both `train_s` and `train_t`, found {keys}.')
        self.streams = {k: build_train_stream(opt, k, start_epoch) for k in keys}
        self.main = self.streams['train' if 'train' in self.streams else 'train_s']

    @property
    def epoch(self) -> int:
        return self.main.epoch

    def next(self) -> dict:
        if 'train' in self.streams:
            return self.main.next()
        source, target = self.streams['train_s'].next(), self.streams['train_t'].next()
        batch = {f'{k}_s': v for k, v in source.items()}
        batch.update({f'{k}_t': v for k, v in target.items()})
        return batch


def prepare_run(opt: dict, opt_path: str, resume_state: Optional[dict]):
    """Folders, log file, environment record and loggers for a fresh or resumed run."""
    if resume_state is None:
        make_exp_dirs(opt)
        if (opt.get('logger') or {}).get('use_tb_logger') and 'debug' not in opt['name'] and opt['rank'] == 0:
            mkdir_and_rename(osp.join(opt['root_path'], 'tb_logger', opt['name']))
    copy_opt_file(opt_path, opt['path']['experiments_root'])
    log_file = osp.join(opt['path']['log'], f"train_{opt['name']}_{get_time_str()}.log")
    logger = get_root_logger(logger_name='basicsr', log_level=logging.INFO, log_file=log_file)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    return logger, init_tb_loggers(opt)


def should(freq, current_iter: int) -> bool:
    return bool(freq) and current_iter % int(freq) == 0


def run_validation(model, val_loaders: list, opt: dict, current_iter: int, tb_logger) -> None:
    for val_loader in val_loaders:
        model.validation(val_loader, current_iter, tb_logger, opt['val'].get('save_img', False))


def train_loop(opt: dict, model, batches: TrainBatches, val_loaders: list, start_iter: int, tb_logger) -> None:
    """Iterate until `train.total_iter`: lr update, one optimisation step, logging, checkpoints, validation."""
    logger = get_root_logger()
    total_iters = int(opt['train']['total_iter'])
    logger_opt, val_opt = opt['logger'], opt.get('val')
    msg_logger = MessageLogger(opt, start_iter, tb_logger)
    data_timer, iter_timer = AvgTimer(), AvgTimer()
    current_iter = start_iter
    logger.info(f'Start training from epoch: {batches.epoch}, iter: {current_iter}')
    while current_iter < total_iters:
        train_data = batches.next()
        data_timer.record()
        current_iter += 1
        model.update_learning_rate(current_iter, warmup_iter=opt['train'].get('warmup_iter', -1))
        model.feed_data(train_data)
        model.optimize_parameters(current_iter)
        iter_timer.record()
        if current_iter == start_iter + 1:
            msg_logger.reset_start_time()
        if should(logger_opt.get('print_freq'), current_iter):
            log_vars = {'epoch': batches.epoch, 'iter': current_iter, 'lrs': model.get_current_learning_rate(),
                        'time': iter_timer.get_avg_time(), 'data_time': data_timer.get_avg_time()}
            log_vars.update(model.get_current_log())
            msg_logger(log_vars)
        if should(logger_opt.get('save_checkpoint_freq'), current_iter):
            logger.info('Saving models and training states.')
            model.save(batches.epoch, current_iter)
        if val_opt is not None and val_loaders and should(val_opt.get('val_freq'), current_iter):
            run_validation(model, val_loaders, opt, current_iter, tb_logger)
        data_timer.start()
        iter_timer.start()
    logger.info('End of training. Save the latest model.')
    model.save(epoch=-1, current_iter=-1)
    if val_opt is not None and val_loaders:
        run_validation(model, val_loaders, opt, current_iter, tb_logger)


def train_pipeline(root_path: str, argv: Optional[list[str]] = None):
    """Parse and validate options, set up data and model, resume if asked, and train; returns the trained model."""
    opt, args = parse_options(root_path, is_train=True, argv=argv)
    opt['root_path'] = root_path
    torch.backends.cudnn.benchmark = True
    resume_state = find_resume_state(opt, select_device(opt))
    if resume_state is not None:
        apply_resume(opt, resume_state['iter'])
    logger, tb_logger = prepare_run(opt, args.opt, resume_state)
    set_random_seed(opt['manual_seed'] + opt['rank'])
    start_epoch = resume_state['epoch'] if resume_state else 0
    batches = TrainBatches(opt, start_epoch)
    val_loaders = build_val_loaders(opt)
    model = build_model(opt)
    start_iter = 0
    if resume_state is not None:
        model.resume_training(resume_state)
        start_iter = resume_state['iter']
        logger.info(f"Resuming training from epoch: {resume_state['epoch']}, iter: {start_iter}.")
    train_loop(opt, model, batches, val_loaders, start_iter, tb_logger)
    if tb_logger is not None:
        tb_logger.close()
    return model


def main() -> None:
    train_pipeline(osp.abspath(osp.join(osp.dirname(__file__), osp.pardir)))


if __name__ == '__main__':
    main()
