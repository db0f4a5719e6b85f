"""Training entry point: `python basicsr/train.py -opt options/x.yml [--launcher pytorch] [--auto_resume]`."""

import logging
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from os import path as osp
from typing import Optional

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), osp.pardir)))

import torch  # noqa: E402

from basicsr.data import build_dataloader, build_dataset  # noqa: E402
from basicsr.data.data_sampler import EnlargedSampler  # noqa: E402
from basicsr.data.dataset_check import DatasetCheckError, format_report, inspect_datasets  # noqa: E402
from basicsr.data.train_stream import TrainStream  # noqa: E402
from basicsr.evaluation.metric_sizes import check_metric_sizes  # noqa: E402
from basicsr.models import build_model, model_class  # noqa: E402
from basicsr.models.nan_guard import NonFiniteLossError  # noqa: E402
from basicsr.option_check import OptionError, validate_options  # noqa: E402
from basicsr.utils.device_util import select_device  # noqa: E402
from basicsr.utils.errors import as_user_error, run_command  # noqa: E402
from basicsr.utils.logger import (  # noqa: E402
    FILE_ONLY,
    AvgTimer,
    MessageLogger,
    get_env_info,
    get_root_logger,
    hold_records_for_log_file,
    init_tb_logger,
    init_wandb_logger,
)
from basicsr.utils.misc import get_time_str, make_exp_dirs, mkdir_and_rename, set_random_seed  # noqa: E402
from basicsr.utils.options import copy_opt_file, dict2str, parse_options  # noqa: E402
from basicsr.utils.preflight import run_preflight  # noqa: E402
from basicsr.utils.resume_util import apply_resume, check_resume_iteration, find_resume_state  # noqa: E402
from basicsr.utils.rng_util import preserved_rng_state  # noqa: E402
from basicsr.utils.signal_util import GracefulStop  # noqa: E402

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
    loader = build_dataloader(
        train_set, dataset_opt, num_gpu=opt['num_gpu'], dist=opt['dist'], sampler=sampler, seed=opt['manual_seed']
    )
    if len(loader) == 0:
        raise OptionError(
            [
                f'datasets.{key}: {len(train_set)} images are fewer than one batch of '
                f'{dataset_opt.get("batch_size_per_gpu")}; lower batch_size_per_gpu or add images'
            ],
            opt.get('opt_path'),
        )
    get_root_logger().info(
        f'Training stream {key}: {len(train_set)} images, enlarge ratio '
        f'{dataset_opt.get("dataset_enlarge_ratio", 1)}, {len(loader)} iters per epoch.'
    )
    return TrainStream(loader, sampler, dataset_opt.get('prefetch_mode'), opt, start_epoch)


def build_val_loaders(opt: dict) -> list:
    loaders = []
    for key, dataset_opt in opt['datasets'].items():
        if key.split('_')[0] == 'val':
            val_set = build_dataset(dataset_opt)
            loaders.append(
                build_dataloader(
                    val_set,
                    dataset_opt,
                    num_gpu=opt['num_gpu'],
                    dist=opt['dist'],
                    sampler=None,
                    seed=opt['manual_seed'],
                )
            )
            get_root_logger().info(f'Number of val images/folders in {dataset_opt["name"]}: {len(val_set)}')
    return loaders


class TrainBatches:
    """One batch per iteration: a single `train` stream, or PDD's `train_s` (synthetic pairs) + `train_t` (real LR)."""

    def __init__(self, opt: dict, start_epoch: int) -> None:
        keys = [k for k in TRAIN_STREAM_KEYS if k in opt['datasets']]
        if keys not in (['train'], ['train_s', 'train_t']):
            raise OptionError(
                [f'datasets: need either `train` or both `train_s` and `train_t`, found {keys}'], opt.get('opt_path')
            )
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

    def state_dict(self) -> dict:
        return {key: stream.state_dict() for key, stream in self.streams.items()}

    def load_state_dict(self, state: dict) -> None:
        for key, stream_state in state.items():
            if key in self.streams:
                self.streams[key].load_state_dict(stream_state)


def prepare_run(opt: dict, opt_path: str, resume_state: Optional[dict]):
    """Folders, log file, environment record and loggers for a fresh or resumed run. Called once the options, data
    and model are known to be good: only then is an earlier run of the same name archived."""
    if resume_state is None:
        make_exp_dirs(opt)
        if (opt.get('logger') or {}).get('use_tb_logger') and 'debug' not in opt['name'] and opt['rank'] == 0:
            mkdir_and_rename(osp.join(opt['root_path'], 'tb_logger', opt['name']))
    elif opt['rank'] == 0:  # resumed from an archived launch: this launch's folders may not exist yet
        for key in ('experiments_root', 'models', 'training_states', 'visualization'):
            os.makedirs(opt['path'][key], exist_ok=True)
    copy_opt_file(opt_path, opt['path']['experiments_root'])
    log_file = osp.join(opt['path']['log'], f'train_{opt["name"]}_{get_time_str()}.log')
    logger = get_root_logger(logger_name='basicsr', log_level=logging.INFO, log_file=log_file)
    logger.info(get_env_info(), extra=FILE_ONLY)
    logger.info(dict2str(opt), extra=FILE_ONLY)
    logger.info(f'Options and environment: {log_file}')
    return logger, init_tb_loggers(opt)


def should(freq, current_iter: int) -> bool:
    return bool(freq) and current_iter % int(freq) == 0


def run_validation(model, val_loaders: list, opt: dict, current_iter: int, tb_logger) -> None:
    """Validate on every loader without touching the training run's random streams (exact resume needs that)."""
    with preserved_rng_state():
        for val_loader in val_loaders:
            model.validation(val_loader, current_iter, tb_logger, opt['val'].get('save_img', False))


class TrainLoop:
    """Iterate until `train.total_iter`: lr update, one optimisation step, logging, checkpoints, validation, stops."""

    def __init__(
        self, opt: dict, model, batches: TrainBatches, val_loaders: list, tb_logger, resume_command: str = ''
    ) -> None:
        self.opt, self.model, self.batches, self.val_loaders = opt, model, batches, val_loaders
        self.tb_logger = tb_logger
        self.resume_command = resume_command
        self.validated_at: Optional[int] = None
        self.logger = get_root_logger()
        self.data_timer, self.iter_timer = AvgTimer(), AvgTimer()

    def log(self, msg_logger: MessageLogger, current_iter: int) -> None:
        log_vars = {
            'epoch': self.batches.epoch,
            'iter': current_iter,
            'lrs': self.model.get_current_learning_rate(),
            'time': self.iter_timer.get_avg_time(),
            'data_time': self.data_timer.get_avg_time(),
        }
        log_vars.update(self.model.get_current_log())
        msg_logger(log_vars)

    def save(self, current_iter: int) -> None:
        self.logger.info('Saving models and training states.')
        self.model.save(self.batches.epoch, current_iter)

    def step(self, current_iter: int) -> None:
        """One optimiser step: the learning rate, then `accum_iter` micro-batches fed and optimised in turn."""
        self.model.update_learning_rate(current_iter, warmup_iter=self.opt['train'].get('warmup_iter', -1))
        for index in range(self.model.perf.accum_iter):
            with self.model.micro_batch(index):
                self.model.feed_data(self.batches.next())
                if index == 0:
                    self.data_timer.record()
                self.model.optimize_parameters(current_iter)
        try:
            self.model.nan_guard.end_iteration(current_iter)
        except NonFiniteLossError:
            self.save(current_iter)
            raise
        self.iter_timer.record()

    def after_step(self, msg_logger: MessageLogger, current_iter: int) -> None:
        logger_opt, val_opt = self.opt['logger'], self.opt.get('val')
        if should(logger_opt.get('print_freq'), current_iter):
            self.log(msg_logger, current_iter)
        if should(logger_opt.get('save_checkpoint_freq'), current_iter):
            self.save(current_iter)
        if val_opt is not None and self.val_loaders and should(val_opt.get('val_freq'), current_iter):
            run_validation(self.model, self.val_loaders, self.opt, current_iter, self.tb_logger)
            self.validated_at = current_iter

    def run(self, start_iter: int, stop: GracefulStop) -> Optional[str]:
        """Train from `start_iter`; returns the signal name if a stop was requested, else None."""
        total_iters = int(self.opt['train']['total_iter'])
        msg_logger = MessageLogger(self.opt, start_iter, self.tb_logger)
        self.logger.info(f'Start training from epoch: {self.batches.epoch}, iter: {start_iter}')
        for current_iter in progress(range(start_iter + 1, total_iters + 1), self.opt):
            self.step(current_iter)
            if current_iter == start_iter + 1:
                msg_logger.reset_start_time()
            self.after_step(msg_logger, current_iter)
            if stop.requested():
                self.save(current_iter)
                self.logger.warning(
                    f'Stopped by {stop.signal_name} after iter {current_iter}; checkpoint saved. '
                    f'Continue with: {self.resume_command}'
                )
                return stop.signal_name
            self.data_timer.start()
            self.iter_timer.start()
        self.logger.info('End of training. Save the latest model.')
        self.model.save(epoch=-1, current_iter=-1)
        if self.opt.get('val') is not None and self.val_loaders and self.validated_at != total_iters:
            run_validation(self.model, self.val_loaders, self.opt, total_iters, self.tb_logger)
        return None


def resume_command(opt: dict, cli_args: Sequence[str]) -> str:
    """The command that continues this run: the same script and arguments (so every --force_yml override is
    repeated) with --auto_resume, under torchrun when this run was launched by it."""
    args = list(cli_args)
    if not {'--auto_resume', '--auto-resume'} & set(args):
        args.append('--auto_resume')
    script = sys.argv[0] if sys.argv and sys.argv[0] else 'basicsr/train.py'
    if opt.get('dist'):
        nproc = os.environ.get('LOCAL_WORLD_SIZE', opt.get('world_size', 1))
        program = ['torchrun', f'--nproc_per_node={nproc}', script]
    else:
        program = ['python', script] if script.endswith('.py') else [osp.basename(script)]
    return shlex.join(program + args)


def progress(iterations: range, opt: dict):
    """A tqdm bar with ETA on an interactive terminal (rank 0), in addition to the log lines."""
    if opt.get('rank', 0) != 0 or not sys.stderr.isatty():
        return iterations
    from tqdm import tqdm

    return tqdm(iterations, initial=0, total=len(iterations), unit='iter', dynamic_ncols=True)


def check_data(opt: dict) -> None:
    """Scan the datasets before anything is built: a sample of image headers always, every image with --check-data;
    the evaluation images must be large enough for the metrics (NIQE). Errors are raised, and printed, once."""
    full = opt.get('check_data', False)
    report = inspect_datasets(opt, max_images=None if full else 32, find_duplicates=full, progress=full)
    if report.errors:
        raise DatasetCheckError(format_report(report))
    if full or report.problems:
        get_root_logger().info(format_report(report))
    check_metric_sizes(opt)


def log_effective_batch(opt: dict, accum_iter: int) -> None:
    """With gradient accumulation, say what one optimiser step averages over (iterations count optimiser steps)."""
    if accum_iter == 1:
        return
    streams = [key for key in TRAIN_STREAM_KEYS if key in opt['datasets']]
    sizes = ', '.join(
        f'{key} {opt["datasets"][key]["batch_size_per_gpu"]} x {accum_iter} x {opt["world_size"]} process(es)'
        f' = {opt["datasets"][key]["batch_size_per_gpu"] * accum_iter * opt["world_size"]}'
        for key in streams
    )
    get_root_logger().info(
        f'Gradient accumulation: {accum_iter} micro-batches per optimiser step (one iteration); '
        f'effective batch {sizes}.'
    )


def find_and_apply_resume(opt: dict) -> Optional[dict]:
    """The training state to continue from (None for a fresh run), checked against `train.total_iter`, with the
    resumed networks' paths pointed at its checkpoints."""
    unsaved = model_class(opt).unsaved_networks(opt)
    resume_state = find_resume_state(opt, select_device(opt), unsaved)
    if resume_state is not None:
        check_resume_iteration(opt, resume_state['iter'])
        apply_resume(opt, resume_state['iter'], unsaved)
    return resume_state


def train_pipeline(root_path: str, argv: Optional[list[str]] = None):
    """Parse and validate options, set up data and model, resume if asked, and train; returns the trained model.

    Outputs go under `root_path` (`experiments/`, `tb_logger/`) unless `path.experiments_root` says otherwise.
    Nothing is written, and no earlier run of the same name is archived, before the options, data, resume state
    and model have all been checked and built."""
    cli_args = list(sys.argv[1:] if argv is None else argv)
    opt, args = parse_options(root_path, is_train=True, argv=cli_args, validate=validate_options)
    opt['root_path'] = root_path
    hold_records_for_log_file()
    check_data(opt)
    torch.backends.cudnn.benchmark = True
    resume_state = find_and_apply_resume(opt)
    set_random_seed(opt['manual_seed'] + opt['rank'])
    batches = TrainBatches(opt, resume_state['epoch'] if resume_state else 0)
    val_loaders = build_val_loaders(opt)
    model = build_model(opt)
    log_effective_batch(opt, model.perf.accum_iter)
    run_preflight(opt, model)
    logger, tb_logger = prepare_run(opt, args.opt, resume_state)
    model.state_providers['streams'] = batches.state_dict
    start_iter = 0
    if resume_state is not None:
        if 'streams' in resume_state:
            batches.load_state_dict(resume_state['streams'])
        model.resume_training(resume_state)
        start_iter = resume_state['iter']
        logger.info(f'Resuming training from epoch: {resume_state["epoch"]}, iter: {start_iter}.')
    with GracefulStop() as stop:
        loop = TrainLoop(opt, model, batches, val_loaders, tb_logger, resume_command(opt, cli_args))
        model.stopped_by = loop.run(start_iter, stop)
    if tb_logger is not None:
        tb_logger.close()
    return model


def train_command() -> int:
    """Train with outputs under the launch directory, where the option file's relative paths are read too (for
    `python basicsr/train.py` from the repository root, as BasicSR; for `basicsr-train` never the installed package);
    returns 128 + signal number after a signal stop, else 0. A run stopped by the NaN guard is reported like a user
    error: its message says where it diverged, that a checkpoint was saved and what to change; it is not a bug."""
    try:
        model = train_pipeline(os.getcwd())
    except NonFiniteLossError as err:
        raise as_user_error(err) from err
    return 0 if model.stopped_by is None else 128 + signal.Signals[model.stopped_by].value


def main() -> None:
    """Command-line entry: a user error is one plain message (exit 2), a bug a traceback with its rank (exit 1)."""
    sys.exit(run_command(train_command, what='training'))


if __name__ == '__main__':
    main()
