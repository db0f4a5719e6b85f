"""Root logger, BasicSR-format training messages, tensorboard and optional wandb."""

import datetime
import logging
import os
import time
from typing import Any, Optional

from basicsr.utils.dist_util import get_dist_info, master_only

initialized_logger: dict[str, bool] = {}
FILE_ONLY = {'file_only': True}  # `logger.info(text, extra=FILE_ONLY)`: long records (the options) stay off the console


class _EarlyRecords(logging.Handler):
    """Holds the records logged before the run's log file exists, so that file still starts at the beginning."""

    def __init__(self, capacity: int = 20000) -> None:
        super().__init__()
        self.capacity = capacity
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.capacity:
            self.records.append(record)


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, 'file_only', False)


def hold_records_for_log_file(logger_name: str = 'basicsr') -> None:
    """Start a new run's log: detach the previous run's file and keep what is logged until `get_root_logger` is
    given the new file (the run's folder is only created once its options, data and model are known to be good)."""
    logger = get_root_logger(logger_name)
    for handler in [h for h in logger.handlers if isinstance(h, (logging.FileHandler, _EarlyRecords))]:
        logger.removeHandler(handler)
        handler.close()
    if get_dist_info()[0] == 0:
        logger.addHandler(_EarlyRecords())
    else:  # the logger may have been made before the process group existed, when every process looked like rank 0
        logger.setLevel('ERROR')


def get_root_logger(
    logger_name: str = 'basicsr', log_level: int = logging.INFO, log_file: Optional[str] = None
) -> logging.Logger:
    """Return the package logger; the first call with `log_file` adds a file handler (rank 0 only logs INFO)."""
    logger = logging.getLogger(logger_name)
    if logger_name in initialized_logger:
        if log_file is not None and get_dist_info()[0] == 0:
            _add_file_handler(logger, log_file, log_level)
        return logger
    format_str = '%(asctime)s %(levelname)s: %(message)s'
    stream_handler = logging.StreamHandler()
    stream_handler.setFormatter(logging.Formatter(format_str))
    stream_handler.addFilter(_not_file_only)
    logger.addHandler(stream_handler)
    logger.propagate = False
    rank, _ = get_dist_info()
    if rank != 0:
        logger.setLevel('ERROR')
    else:
        logger.setLevel(log_level)
        if log_file is not None:
            _add_file_handler(logger, log_file, log_level)
    initialized_logger[logger_name] = True
    return logger


def _add_file_handler(logger: logging.Logger, log_file: str, log_level: int) -> None:
    """Log to `log_file`, replacing a file handler of an earlier run in the same process."""
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        if handler.baseFilename == os.path.abspath(log_file):
            return
        logger.removeHandler(handler)
        handler.close()
    file_handler = logging.FileHandler(log_file, 'w')
    file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s: %(message)s'))
    file_handler.setLevel(log_level)
    for early in [h for h in logger.handlers if isinstance(h, _EarlyRecords)]:
        for record in early.records:
            file_handler.handle(record)
        logger.removeHandler(early)
    logger.addHandler(file_handler)


class AvgTimer:
    """Average wall time between `record()` calls over a sliding window (the iteration time in the log)."""

    def __init__(self, window: int = 200) -> None:
        self.window = window
        self.current_time = 0.0
        self.total_time = 0.0
        self.count = 0
        self.avg_time = 0.0
        self.start()

    def start(self) -> None:
        self.start_time = self.tic = time.time()

    def record(self) -> None:
        self.count += 1
        self.toc = time.time()
        self.current_time = self.toc - self.tic
        self.total_time += self.current_time
        self.avg_time = self.total_time / self.count
        if self.count > self.window:
            self.count = 0
            self.total_time = 0
        self.tic = time.time()

    def get_current_time(self) -> float:
        return self.current_time

    def get_avg_time(self) -> float:
        return self.avg_time


class MessageLogger:
    """Format training status in BasicSR's log line and mirror scalars to tensorboard / wandb."""

    def __init__(self, opt: dict, start_iter: int = 1, tb_logger: Any = None) -> None:
        self.exp_name = opt['name']
        self.interval = opt['logger']['print_freq']
        self.start_iter = start_iter
        self.max_iters = opt['train']['total_iter']
        self.use_tb_logger = opt['logger'].get('use_tb_logger', False)
        self.tb_logger = tb_logger
        self.start_time = time.time()
        self.logger = get_root_logger()

    def reset_start_time(self) -> None:
        self.start_time = time.time()

    @master_only
    def __call__(self, log_vars: dict) -> None:
        """Log `epoch`, `iter`, `lrs`, optional `time`/`data_time`, then every loss as `name: value`."""
        log_vars = dict(log_vars)
        epoch = log_vars.pop('epoch')
        current_iter = log_vars.pop('iter')
        lrs = log_vars.pop('lrs')
        message = f'[{self.exp_name[:5]}..][epoch:{epoch:3d}, iter:{current_iter:8,d}, lr:('
        message += ''.join(f'{v:.3e},' for v in lrs) + ')] '
        if 'time' in log_vars:
            iter_time = log_vars.pop('time')
            data_time = log_vars.pop('data_time')
            message += f'[eta: {self.eta_string(current_iter)}, time (data): {iter_time:.3f} ({data_time:.3f})] '
        for k, v in log_vars.items():
            message += f'{k}: {v:.4e} '
            if self.use_tb_logger and self.tb_logger is not None and 'debug' not in self.exp_name:
                self.tb_logger.add_scalar(f'losses/{k}' if k.startswith('l_') else k, v, current_iter)
        self.logger.info(message)

    def eta_string(self, current_iter: int) -> str:
        total_time = time.time() - self.start_time
        time_sec_avg = total_time / (current_iter - self.start_iter + 1)
        eta_sec = time_sec_avg * (self.max_iters - current_iter - 1)
        return str(datetime.timedelta(seconds=int(max(eta_sec, 0))))


@master_only
def init_tb_logger(log_dir: str):
    """A tensorboard SummaryWriter writing to `log_dir`."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=log_dir)


@master_only
def init_wandb_logger(opt: dict) -> None:
    """Start a wandb run mirroring tensorboard (wandb imported lazily; a clear error when missing)."""
    try:
        import wandb
    except ImportError as err:
        raise ImportError('logger.wandb is set but the wandb package is not installed: pip install wandb') from err
    wandb_opt = opt['logger']['wandb']
    resume_id = wandb_opt.get('resume_id')
    wandb.init(
        id=resume_id or wandb.util.generate_id(),
        resume='allow' if resume_id else 'never',
        name=opt['name'],
        config=opt,
        project=wandb_opt.get('project'),
        entity=wandb_opt.get('entity'),
        sync_tensorboard=True,
    )
    get_root_logger().info(f'Use wandb logger with id={wandb.run.id}; project={wandb_opt.get("project")}.')


def get_env_info() -> str:
    """Versions worth recording at the top of every log."""
    import platform

    import torch
    import torchvision

    from basicsr.version import __version__

    return (
        f'\nVersion Information: \n\tBasicSR: {__version__}\n\tPython: {platform.python_version()}'
        f'\n\tPyTorch: {torch.__version__}\n\tTorchVision: {torchvision.__version__}'
        f'\n\tCUDA available: {torch.cuda.is_available()}'
    )
