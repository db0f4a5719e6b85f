"""Score SR models on a demo test set: PSNR / SSIM (Y, border 4), HaarPSI (colour, border 4; full-reference and
weight-free), NIQE (Y, border 4) and LPIPS when its ImageNet backbone is on this machine; writes one JSON of per-image
and mean values and the SR images.

  python -m scripts.demo.evaluate --hr datasets/demo/hr/test --lr datasets/demo/lr/camera/test \\
      --model generalist=scripts/demo/pretrained/demo_generalist.pth:params_ema --bicubic --out m.json
"""

import argparse
import glob
import json
import os
from os import path as osp
from typing import Optional

import cv2
import numpy as np
import torch

from basicsr.archs import build_network
from basicsr.metrics.haarpsi import calculate_haarpsi
from basicsr.metrics.niqe import calculate_niqe
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.checkpoint_util import atomic_write_text, read_network_file
from basicsr.utils.img_util import img2tensor, tensor2img
from basicsr.utils.options import load_option_file

CROP_BORDER = 4
METRICS = ('psnr', 'ssim', 'haarpsi', 'lpips', 'niqe')


def lpips_scorer():
    """calculate_lpips bound to the AlexNet backbone when its ImageNet file is found offline, else None."""
    from basicsr.metrics.lpips_metric import calculate_lpips, get_lpips_model

    try:
        get_lpips_model('alex', 'cpu')
    except (FileNotFoundError, ImportError):
        return None
    return lambda sr, gt: calculate_lpips(sr, gt, crop_border=CROP_BORDER, device='cpu')


def load_net(network_opt_file: str, weights: str, param_key: str) -> torch.nn.Module:
    """The `network_g` of an option file with weights from `weights` (`param_key`), in eval mode on the CPU."""
    net = build_network(load_option_file(network_opt_file)['network_g'])
    net.load_state_dict(read_network_file(weights, param_key))
    return net.eval()


def super_resolve(net: Optional[torch.nn.Module], lq: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """SR of a BGR uint8 image by `net`, or bicubic upscaling to `size` (w, h) when `net` is None."""
    if net is None:
        return cv2.resize(lq, size, interpolation=cv2.INTER_CUBIC)
    with torch.no_grad():
        return tensor2img(net(img2tensor(lq.astype(np.float32) / 255.0).unsqueeze(0)))


def score(sr: np.ndarray, gt: np.ndarray, lpips) -> dict[str, Optional[float]]:
    return {
        'psnr': calculate_psnr(sr, gt, CROP_BORDER, test_y_channel=True),
        'ssim': calculate_ssim(sr, gt, CROP_BORDER, test_y_channel=True),
        'haarpsi': calculate_haarpsi(sr, gt, CROP_BORDER),
        'lpips': None if lpips is None else lpips(sr, gt),
        'niqe': calculate_niqe(sr, CROP_BORDER),
    }


def evaluate(hr_dir: str, lr_dir: str, models: dict[str, Optional[torch.nn.Module]], save_dir: Optional[str]) -> dict:
    """{'images': [...], 'rows': {model: {'per_image': {...}, 'mean': {...}}}} over the PNGs of `hr_dir`."""
    names = [osp.splitext(osp.basename(p))[0] for p in sorted(glob.glob(osp.join(hr_dir, '*.png')))]
    if not names:
        raise FileNotFoundError(f'No test images in {hr_dir}; build the demo data first.')
    lpips = lpips_scorer()
    rows = {}
    for done, (model_name, net) in enumerate(models.items(), start=1):
        per_image = {}
        for name in names:
            gt = cv2.imread(osp.join(hr_dir, f'{name}.png'))
            lq = cv2.imread(osp.join(lr_dir, f'{name}.png'))
            sr = super_resolve(net, lq, (gt.shape[1], gt.shape[0]))
            per_image[name] = score(sr, gt, lpips)
            if save_dir:
                os.makedirs(osp.join(save_dir, model_name), exist_ok=True)
                cv2.imwrite(osp.join(save_dir, model_name, f'{name}.png'), sr)
        mean = {
            m: (None if per_image[names[0]][m] is None else float(np.mean([v[m] for v in per_image.values()])))
            for m in METRICS
        }
        rows[model_name] = {'per_image': per_image, 'mean': mean}
        print(f'step {done}/{len(models)} {model_name}: {len(names)} images', flush=True)
    return {'images': names, 'lpips_available': lpips is not None, 'rows': rows}


def parse_model(spec: str) -> tuple[str, str, str]:
    """`name=weights[:param_key]` -> (name, weights, param_key); the key defaults to `params`."""
    name, _, rest = spec.partition('=')
    weights, _, key = rest.partition(':')
    if not name or not weights:
        raise ValueError(f"--model '{spec}' must look like name=path/to/weights.pth[:param_key].")
    return name, weights, key or 'params'


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hr', required=True, help='folder of GT PNGs')
    parser.add_argument('--lr', required=True, help='folder of LR PNGs with the same names')
    parser.add_argument('--model', action='append', default=[], help='name=weights.pth[:param_key]')
    parser.add_argument('--network-opt', default='options/demo/pdd_ema.yml', help='option file with network_g')
    parser.add_argument('--bicubic', action='store_true', help='add a bicubic-upscaling row')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--save-dir', default=None, help='write the SR images under <save-dir>/<model>/')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    models: dict[str, Optional[torch.nn.Module]] = {'bicubic': None} if args.bicubic else {}
    for spec in args.model:
        name, weights, key = parse_model(spec)
        models[name] = load_net(args.network_opt, weights, key)
    result = evaluate(args.hr, args.lr, models, args.save_dir)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
