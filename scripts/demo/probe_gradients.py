"""How much each generator loss of a demo option file pushes the network: the gradient norm of every term with
respect to net_g's parameters, averaged over a few batches after the warm-ups. This is the check that the
distillation is numerically alive with a given feature extractor (docs/demo.md records the numbers).

  python -m scripts.demo.probe_gradients -opt options/demo/pdd_ema.yml --force_yml ... [--steps 60 --batches 5]
"""

import argparse
import sys
from collections import OrderedDict

import torch

from basicsr.models import build_model
from basicsr.option_check import validate_options
from basicsr.train import TrainBatches
from basicsr.utils.options import parse_options


def loss_terms(model) -> dict[str, torch.Tensor]:
    """Every generator loss of an SRGANRefModel on its current batch, recomputed term by term."""
    model.forward_both_streams()
    terms = OrderedDict()
    if model.cri_domain is not None:
        synthetic = model.output_s.detach() if model.domain_opt_detach else model.output_s
        terms['l_inter'], terms['l_intra'] = model.cri_domain(model.output_t, model.ref_t, synthetic, model.ref_s)
    if model.cri_nd is not None:
        terms['l_nd'] = model.cri_nd(model.output_t, model.ref_t)
    terms['l_pix'] = model.cri_pix(model.output_s, model.gt_s)
    terms['l_percep'] = model.cri_perceptual(model.output_s, model.gt_s)[0]
    terms['l_gan'] = model.cri_gan(model.net_d(torch.cat([model.output_s, model.output_t])), True, is_disc=False)
    return {k: v for k, v in terms.items() if v is not None}


def gradient_norms(model) -> dict[str, float]:
    params = [p for p in model.net_g.parameters() if p.requires_grad]
    norms = {}
    for name, value in loss_terms(model).items():
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        norms[name] = float(torch.sqrt(sum((g**2).sum() for g in grads if g is not None)))
    return norms


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=60, help='training steps before probing')
    parser.add_argument('--batches', type=int, default=5, help='batches averaged')
    args, rest = parser.parse_known_args(argv)
    torch.set_num_threads(1)
    opt, _ = parse_options(
        '.', is_train=True, argv=rest, validate=validate_options
    )  # nothing is written: no experiment folder is made
    opt['root_path'] = '.'
    model = build_model(opt)
    batches = TrainBatches(opt, 0)
    for step in range(1, args.steps + 1):
        model.feed_data(batches.next())
        model.optimize_parameters(step)
    totals: dict[str, float] = {}
    for _ in range(args.batches):
        model.feed_data(batches.next())
        for name, value in gradient_norms(model).items():
            totals[name] = totals.get(name, 0.0) + value / args.batches
    reference = totals['l_pix']
    print('gradient norm w.r.t. net_g (mean of', args.batches, 'batches); ratio to the pixel loss:')
    for name, value in totals.items():
        print(f'  {name:<10} {value:.3e}  x{value / reference:.2f}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
