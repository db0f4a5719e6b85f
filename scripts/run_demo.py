"""`make demo`: build demo data from bundled photos, train a tiny SR model on CPU, compare it with bicubic on test tiles."""
import glob
import os
import sys
import time
from os import path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
sys.path.insert(0, ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from basicsr.archs import build_network  # noqa: E402
from basicsr.metrics.psnr_ssim import calculate_psnr  # noqa: E402
from basicsr.train import train_pipeline  # noqa: E402
from basicsr.utils.checkpoint_util import read_network_file  # noqa: E402
from basicsr.utils.img_util import img2tensor, tensor2img  # noqa: E402
from basicsr.utils.options import load_option_file  # noqa: E402
from scripts.demo.make_data import make_demo_data  # noqa: E402

OPTION_FILE = 'options/demo/sr_tiny.yml'


def evaluate(opt: dict, weights: str, test_root: str) -> tuple[float, float]:
    """Mean Y-channel PSNR (crop 4) of bicubic upscaling and of the trained model on the test tiles."""
    net = build_network(opt['network_g'])
    net.load_state_dict(read_network_file(weights, 'params_ema'))
    net.eval()
    scale = opt['scale']
    psnr_bicubic, psnr_model = [], []
    for gt_path in sorted(glob.glob(osp.join(test_root, 'HR', '*.png'))):
        gt = cv2.imread(gt_path)
        lq = cv2.imread(osp.join(test_root, f'LR_bicubic_x{scale}', osp.basename(gt_path)))
        bicubic = cv2.resize(lq, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_CUBIC)
        with torch.no_grad():
            sr = tensor2img(net(img2tensor(lq.astype(np.float32) / 255.).unsqueeze(0)))
        psnr_bicubic.append(calculate_psnr(bicubic, gt, crop_border=4, test_y_channel=True))
        psnr_model.append(calculate_psnr(sr, gt, crop_border=4, test_y_channel=True))
    return float(np.mean(psnr_bicubic)), float(np.mean(psnr_model))


def main() -> None:
    os.chdir(ROOT)
    start = time.time()
    print('[1/3] Building demo data from scikit-image photos ...', flush=True)
    print('      tiles per split:', make_demo_data('datasets/demo'), flush=True)
    print(f'[2/3] Training a tiny SR model on CPU ({OPTION_FILE}) ...', flush=True)
    train_pipeline(ROOT, ['-opt', OPTION_FILE])
    opt = load_option_file(OPTION_FILE)
    weights = osp.join('experiments', opt['name'], 'models', 'net_g_latest.pth')
    print('[3/3] Evaluating on the held-out test photo ...', flush=True)
    bicubic, model = evaluate(opt, weights, 'datasets/demo/test')
    print('\n| method | PSNR-Y (dB) |\n|---|---|')
    print(f'| bicubic | {bicubic:.2f} |\n| tiny SRVGGNetCompact | {model:.2f} |')
    print(f'\nDone in {time.time() - start:.0f} s. Weights: {weights}; logs and tensorboard under experiments/ and '
          f'tb_logger/.')


if __name__ == '__main__':
    main()
