"""BasicSR's download helpers, offline: they return files already on disk and explain how to place missing ones."""

import os
from typing import Optional
from urllib.parse import urlparse

from basicsr.utils.weights_util import hub_checkpoint_dir, resolve_weight_file


def load_file_from_url(
    url: str, model_dir: Optional[str] = None, progress: bool = True, file_name: Optional[str] = None
) -> str:
    """Return the absolute path of the file `url` names, looked up in `model_dir` (default: the torch hub cache)
    and then in the shared weight folders; raise FileNotFoundError saying where to place it. Never downloads.

    `progress` is accepted for BasicSR / Real-ESRGAN call compatibility and has no effect.
    """
    filename = file_name or os.path.basename(urlparse(url).path)
    model_dir = model_dir or hub_checkpoint_dir()
    return resolve_weight_file(
        filename, search_dirs=[model_dir], purpose=f'load_file_from_url({url})', how_to_get=f'download {url}'
    )


def download_file_from_google_drive(file_id: str, save_path: str) -> None:
    """Offline stand-in for BasicSR's Google Drive download: succeed if `save_path` exists, else explain."""
    if os.path.isfile(save_path):
        return
    raise FileNotFoundError(
        f'{save_path} does not exist and this project never downloads. On a machine with '
        f'internet access, download https://drive.google.com/uc?id={file_id} and copy it to '
        f'{os.path.abspath(save_path)}.'
    )
