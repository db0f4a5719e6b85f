"""Checks of `basicsr-adapt`'s inputs that are not about photos or networks: the output folder (never overwritten
silently), the source HR folder, the VGG19 weights of the losses, the default number of held-out photos."""

import os
import shutil
from typing import Optional

from basicsr.utils.errors import UserError
from basicsr.utils.misc import get_time_str, list_images
from basicsr.utils.weights_util import resolve_weight_file

VGG19_FILE = 'vgg19-dcbb9e9d.pth'
VGG19_HOW_TO_GET = 'run `python -c "import torchvision; torchvision.models.vgg19(weights=\'IMAGENET1K_V1\')"`'
# The demo's slim VGG19-layout features (self-supervised on bundled photos): good enough for a --quick CPU run.
DEMO_VGG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'scripts',
    'demo',
    'pretrained',
    'demo_vgg19_slim.pth',
)
SOURCE_HINT = (
    'For real runs use DF2K HR sub-images (DIV2K + Flickr2K, cut with '
    'scripts/data_preparation/extract_subimages.py); datasets/README.md says where to download them.'
)


class OutFolderError(UserError, FileExistsError):
    """An --out folder that holds something an adaptation must not overwrite."""


def default_holdout(usable: int) -> int:
    """A few photos for the report (one per four, 1 to 3), leaving the rest for training."""
    return min(3, max(1, usable // 4))


def check_out_dir(out: str, resume: bool, archive: bool) -> bool:
    """True to resume. An earlier adaptation (adapt.yml) is resumed (--resume) or moved aside (--archive), never
    overwritten; any other non-empty folder is refused."""
    earlier = os.path.isfile(os.path.join(out, 'adapt.yml')) and os.path.isfile(os.path.join(out, 'adapt.json'))
    if resume:
        if not earlier:
            raise FileNotFoundError(
                f'--resume: {out} holds no earlier adaptation (no adapt.yml / adapt.json); run '
                'without --resume to start one.'
            )
        return True
    if earlier and archive:
        archived = f'{out}_archived_{get_time_str()}'
        shutil.move(out, archived)
        print(f'The earlier adaptation in {out} was moved to {archived}.')
    elif earlier:
        raise OutFolderError(
            f'--out {out} holds an earlier adaptation: add --resume to continue it, --archive to '
            'move it aside and start anew, or choose another --out.'
        )
    elif os.path.isdir(out) and os.listdir(out):
        raise OutFolderError(f'--out {out} is not empty and holds no adaptation; choose an empty or new folder.')
    return False


def check_source(source: str, gt_crop: int) -> tuple[str, int]:
    """(absolute folder, image count); it must hold images (sizes are checked by the training's data scan)."""
    try:
        images = list_images(source)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'--source: {err} It must hold high-resolution images of at least {gt_crop} px a side. {SOURCE_HINT}'
        ) from err
    return os.path.abspath(source), len(images)


def resolve_vgg(explicit: Optional[str], quick: bool) -> tuple[str, str]:
    """(path, description) of the VGG19 weights: --vgg, else torchvision's ImageNet file in the weight folders,
    else (for --quick only) the demo's slim VGG shipped with the repository."""
    try:
        path = resolve_weight_file(
            VGG19_FILE, explicit, purpose='the perceptual and distillation losses', how_to_get=VGG19_HOW_TO_GET
        )
        return path, f'VGG19 weights {path}'
    except FileNotFoundError:
        if explicit or not quick or not os.path.isfile(DEMO_VGG):
            raise
    return DEMO_VGG, (
        f"the demo's slim self-supervised VGG19 ({DEMO_VGG}), because no ImageNet {VGG19_FILE} was "
        'found; real runs need the ImageNet file'
    )
