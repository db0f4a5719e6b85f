"""LMDB image stores in BasicSR's layout: PNG-encoded values keyed by name, plus a `meta_info.txt` listing every key.

`meta_info.txt` has one line per image, `<key>.png (h,w,c) <compress_level>`; BasicSR's lmdb readers take the key as the
text before the first dot, so keys must not contain dots or spaces.
"""

import os
import re
from collections.abc import Iterator, Sequence
from multiprocessing import Pool
from os import path as osp
from typing import NamedTuple, Optional

import cv2
import numpy as np
from tqdm import tqdm

META_INFO_NAME = 'meta_info.txt'
_META_LINE = re.compile(r'^(?P<name>\S+)\s+\((?P<h>\d+),\s*(?P<w>\d+),\s*(?P<c>\d+)\)(?:\s+(?P<level>\d+))?\s*$')


class MetaInfoEntry(NamedTuple):
    """One `meta_info.txt` line: the lmdb key and the image shape recorded when it was written."""

    key: str
    shape: tuple[int, int, int]
    compress_level: Optional[int]


def _import_lmdb():
    try:
        import lmdb
    except ImportError as err:
        raise ImportError('Writing or reading lmdb files needs the `lmdb` package: pip install lmdb') from err
    return lmdb


def check_lmdb_key(key: str) -> None:
    """Reject keys that BasicSR's `meta_info.txt` parser would cut short (it splits at the first '.')."""
    if not key or '.' in key or any(ch.isspace() for ch in key):
        raise ValueError(
            f'lmdb key {key!r} must be non-empty without dots or spaces; rename the file '
            f'(BasicSR reads the key as the text before the first dot of each meta_info.txt line).'
        )


def _check_new_lmdb_path(lmdb_path: str) -> None:
    if not lmdb_path.endswith('.lmdb'):
        raise ValueError(f"lmdb_path must end with '.lmdb', got {lmdb_path}")
    if osp.exists(lmdb_path):
        raise FileExistsError(f'{lmdb_path} already exists; delete it or choose another lmdb path.')


def read_img_worker(path: str, key: str, compress_level: int) -> tuple[str, bytes, tuple[int, int, int]]:
    """Read one image unchanged and PNG-encode it: returns (key, png bytes, (h, w, c))."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OSError(f'{path} is not a readable image; remove it from the folder or replace it.')
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    ok, encoded = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise OSError(f'{path} could not be PNG-encoded.')
    return key, encoded.tobytes(), (h, w, c)


def _read_img_worker_star(args: tuple[str, str, int]) -> tuple[str, bytes, tuple[int, int, int]]:
    return read_img_worker(*args)


class LmdbMaker:
    """Write PNG bytes into a new lmdb in transactions of `batch` images and keep `meta_info.txt` in step.

    The map grows (doubling, between transactions) before it could fill up, so a low `map_size` estimate never aborts
    a long write.
    """

    def __init__(self, lmdb_path: str, map_size: int = 1024**4, batch: int = 5000, compress_level: int = 1) -> None:
        _check_new_lmdb_path(lmdb_path)
        lmdb = _import_lmdb()
        self.lmdb_path = lmdb_path
        self.batch = batch
        self.compress_level = compress_level
        self.map_size = map_size
        self.env = lmdb.open(lmdb_path, map_size=map_size)
        self.page_size = self.env.stat()['psize']
        self.txn = self.env.begin(write=True)
        self.txt_file = open(osp.join(lmdb_path, META_INFO_NAME), 'w')
        self.counter = 0
        self.bytes_reserved = 0

    def put(self, img_byte: bytes, key: str, img_shape: Sequence[int]) -> None:
        """Store one encoded image under `key` and record its shape in `meta_info.txt`."""
        check_lmdb_key(key)
        needed = len(img_byte) + len(key) + 2 * self.page_size
        if self.bytes_reserved + needed > 0.8 * self.map_size:
            self._commit_and_grow(needed)
        self.txn.put(key.encode('ascii'), img_byte)
        self.bytes_reserved += needed
        h, w, c = img_shape
        self.txt_file.write(f'{key}.png ({h},{w},{c}) {self.compress_level}\n')
        self.counter += 1
        if self.counter % self.batch == 0:
            self.txn.commit()
            self.txn = self.env.begin(write=True)

    def _commit_and_grow(self, needed: int) -> None:
        self.txn.commit()
        while self.bytes_reserved + needed > 0.8 * self.map_size:
            self.map_size *= 2
        self.env.set_mapsize(self.map_size)
        self.txn = self.env.begin(write=True)

    def close(self) -> None:
        """Commit the last transaction and close the database and `meta_info.txt`."""
        self.txn.commit()
        self.env.close()
        self.txt_file.close()


def _estimate_map_size(data_path: str, img_path_list: Sequence[str], compress_level: int) -> int:
    """Ten times the PNG size of the first image per image (BasicSR's estimate), at least 16 MiB."""
    _, first_bytes, _ = read_img_worker(osp.join(data_path, img_path_list[0]), 'first', compress_level)
    return max(len(first_bytes) * len(img_path_list) * 10, 16 * 1024**2)


def _encoded_images(
    data_path: str,
    img_path_list: Sequence[str],
    keys: Sequence[str],
    compress_level: int,
    multiprocessing_read: bool,
    n_thread: int,
) -> Iterator[tuple[str, bytes, tuple[int, int, int]]]:
    jobs = [(osp.join(data_path, path), key, compress_level) for path, key in zip(img_path_list, keys)]
    if not multiprocessing_read:
        yield from map(_read_img_worker_star, jobs)
        return
    with Pool(n_thread) as pool:
        yield from pool.imap(_read_img_worker_star, jobs, chunksize=8)


def make_lmdb_from_imgs(
    data_path: str,
    lmdb_path: str,
    img_path_list: Sequence[str],
    keys: Sequence[str],
    batch: int = 5000,
    compress_level: int = 1,
    multiprocessing_read: bool = False,
    n_thread: int = 40,
    map_size: Optional[int] = None,
) -> None:
    """Pack the images `data_path/<img_path_list[i]>` into a new lmdb under `keys[i]` (BasicSR 1.4 signature)."""
    if len(img_path_list) != len(keys):
        raise ValueError(f'img_path_list and keys differ in length: {len(img_path_list)} vs {len(keys)}')
    if not img_path_list:
        raise ValueError(f'No images to write into {lmdb_path}; check that {data_path} holds images.')
    _check_new_lmdb_path(lmdb_path)
    for key in keys:
        check_lmdb_key(key)
    if map_size is None:
        map_size = _estimate_map_size(data_path, img_path_list, compress_level)
    maker = LmdbMaker(lmdb_path, map_size=map_size, batch=batch, compress_level=compress_level)
    try:
        images = _encoded_images(data_path, img_path_list, keys, compress_level, multiprocessing_read, n_thread)
        bar = tqdm(images, total=len(keys), unit='image', desc=f'Write {osp.basename(lmdb_path)}')
        for key, img_byte, shape in bar:
            maker.put(img_byte, key, shape)
    finally:
        maker.close()


def parse_meta_info_line(line: str) -> MetaInfoEntry:
    """Parse `<key>.<ext> (h,w,c) [level]`; the key is the text before the first dot, as BasicSR reads it."""
    match = _META_LINE.match(line.strip())
    if match is None:
        raise ValueError(f"meta_info line {line.strip()!r} is not '<key>.png (h,w,c) <compress_level>'")
    level = match.group('level')
    shape = (int(match.group('h')), int(match.group('w')), int(match.group('c')))
    return MetaInfoEntry(match.group('name').split('.')[0], shape, int(level) if level is not None else None)


def read_meta_info(lmdb_path: str) -> list[MetaInfoEntry]:
    """All entries of `<lmdb_path>/meta_info.txt`, in file order."""
    meta_path = osp.join(lmdb_path, META_INFO_NAME)
    if not osp.isfile(meta_path):
        raise FileNotFoundError(
            f'{lmdb_path} has no {META_INFO_NAME}; recreate the lmdb with '
            f'scripts/data_preparation/create_lmdb.py, which writes it.'
        )
    with open(meta_path) as f:
        return [parse_meta_info_line(line) for line in f if line.strip()]


def read_lmdb_image(lmdb_path: str, key: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode the image stored under `key` (for checks and tests; training reads through FileClient)."""
    lmdb = _import_lmdb()
    env = lmdb.open(lmdb_path, readonly=True, lock=False, readahead=False, meminit=False)
    try:
        with env.begin(write=False) as txn:
            value = txn.get(key.encode('ascii'))
            if value is None:
                raise KeyError(f'{lmdb_path} has no key {key!r}')
            img = cv2.imdecode(np.frombuffer(value, np.uint8), flags)
    finally:
        env.close()
    if img is None:
        raise OSError(f'The value of {key!r} in {lmdb_path} is not a decodable image.')
    return img


def folder_keys(img_path_list: Sequence[str]) -> list[str]:
    """lmdb keys for relative image paths: the path without its extension (`0001_s001.png` -> `0001_s001`)."""
    return [osp.splitext(path)[0].replace(os.sep, '/') for path in img_path_list]
