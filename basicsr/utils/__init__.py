"""Public utilities with BasicSR 1.4's names (`from basicsr.utils import get_root_logger, imwrite, ...`)."""

from basicsr.utils.color_util import bgr2ycbcr, rgb2ycbcr, rgb2ycbcr_pt, ycbcr2bgr, ycbcr2rgb
from basicsr.utils.diffjpeg import DiffJPEG
from basicsr.utils.download_util import download_file_from_google_drive, load_file_from_url
from basicsr.utils.file_client import FileClient
from basicsr.utils.img_process_util import USMSharp, filter2D, usm_sharp
from basicsr.utils.img_util import crop_border, imfrombytes, img2tensor, imwrite, tensor2img
from basicsr.utils.logger import (
    AvgTimer,
    MessageLogger,
    get_env_info,
    get_root_logger,
    init_tb_logger,
    init_wandb_logger,
)
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.misc import (
    check_resume,
    get_time_str,
    make_exp_dirs,
    mkdir_and_rename,
    scandir,
    set_random_seed,
    sizeof_fmt,
)
from basicsr.utils.options import yaml_load

__all__ = [
    'bgr2ycbcr',
    'rgb2ycbcr',
    'rgb2ycbcr_pt',
    'ycbcr2bgr',
    'ycbcr2rgb',
    'DiffJPEG',
    'download_file_from_google_drive',
    'load_file_from_url',
    'FileClient',
    'USMSharp',
    'filter2D',
    'usm_sharp',
    'imresize',
    'crop_border',
    'imfrombytes',
    'img2tensor',
    'imwrite',
    'tensor2img',
    'AvgTimer',
    'MessageLogger',
    'get_env_info',
    'get_root_logger',
    'init_tb_logger',
    'init_wandb_logger',
    'check_resume',
    'get_time_str',
    'make_exp_dirs',
    'mkdir_and_rename',
    'scandir',
    'set_random_seed',
    'sizeof_fmt',
    'yaml_load',
]
