"""lmdb image stores: pixels survive the round trip, meta_info.txt follows BasicSR's format, bad paths are refused."""

import os

import cv2
import lmdb
import numpy as np
import pytest

from basicsr.utils.lmdb_util import (
    LmdbMaker,
    check_lmdb_key,
    folder_keys,
    make_lmdb_from_imgs,
    parse_meta_info_line,
    read_lmdb_image,
    read_meta_info,
)


def _write_images(folder, specs):
    """specs: name -> array; returns the sorted file names."""
    os.makedirs(folder, exist_ok=True)
    for name, img in specs.items():
        assert cv2.imwrite(os.path.join(folder, name), img)
    return sorted(specs)


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    specs = {
        '0001.png': rng.integers(0, 256, (12, 20, 3), dtype=np.uint8),
        '0002.png': rng.integers(0, 256, (9, 7), dtype=np.uint8),
        '0003.png': rng.integers(0, 65536, (5, 6, 3), dtype=np.uint16),
        '0004.png': rng.integers(0, 256, (4, 4, 4), dtype=np.uint8),
    }
    folder = str(tmp_path / 'imgs')
    names = _write_images(folder, specs)
    return folder, names, specs


def test_lmdb_round_trip_returns_identical_pixels(image_folder, tmp_path):
    folder, names, specs = image_folder
    lmdb_path = str(tmp_path / 'imgs.lmdb')
    make_lmdb_from_imgs(folder, lmdb_path, names, folder_keys(names))
    for name in names:
        stored = read_lmdb_image(lmdb_path, os.path.splitext(name)[0])
        assert stored.dtype == specs[name].dtype
        np.testing.assert_array_equal(stored, specs[name])


def test_meta_info_lists_key_shape_and_compress_level_per_image(image_folder, tmp_path):
    folder, names, _ = image_folder
    lmdb_path = str(tmp_path / 'imgs.lmdb')
    make_lmdb_from_imgs(folder, lmdb_path, names, folder_keys(names), compress_level=3)
    with open(os.path.join(lmdb_path, 'meta_info.txt')) as f:
        lines = f.read().splitlines()
    assert lines == ['0001.png (12,20,3) 3', '0002.png (9,7,1) 3', '0003.png (5,6,3) 3', '0004.png (4,4,4) 3']
    assert [line.split('.')[0] for line in lines] == ['0001', '0002', '0003', '0004']  # how BasicSR reads keys


def test_multiprocessing_read_stores_the_same_values_as_serial_read(image_folder, tmp_path):
    folder, names, _ = image_folder
    serial, parallel = str(tmp_path / 'a.lmdb'), str(tmp_path / 'b.lmdb')
    make_lmdb_from_imgs(folder, serial, names, folder_keys(names))
    make_lmdb_from_imgs(folder, parallel, names, folder_keys(names), multiprocessing_read=True, n_thread=2)

    def values(path):
        env = lmdb.open(path, readonly=True, lock=False)
        with env.begin() as txn:
            items = dict(txn.cursor())
        env.close()
        return items

    assert values(serial) == values(parallel)
    assert read_meta_info(serial) == read_meta_info(parallel)


def test_lmdb_maker_grows_a_map_that_is_too_small(tmp_path):
    lmdb_path = str(tmp_path / 'grow.lmdb')
    maker = LmdbMaker(lmdb_path, map_size=64 * 1024, batch=3)
    rng = np.random.default_rng(1)
    payloads = {f'k{i}': rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes() for i in range(10)}
    for key, payload in payloads.items():
        maker.put(payload, key, (1, len(payload), 1))
    maker.close()
    env = lmdb.open(lmdb_path, readonly=True, lock=False)
    with env.begin() as txn:
        assert {k: txn.get(k.encode()) for k in payloads} == payloads
    env.close()
    assert [e.key for e in read_meta_info(lmdb_path)] == list(payloads)


def test_existing_or_misnamed_lmdb_path_is_refused(image_folder, tmp_path):
    folder, names, _ = image_folder
    with pytest.raises(ValueError, match=r"end with '\.lmdb'"):
        make_lmdb_from_imgs(folder, str(tmp_path / 'out'), names, folder_keys(names))
    existing = tmp_path / 'done.lmdb'
    existing.mkdir()
    with pytest.raises(FileExistsError, match='already exists'):
        make_lmdb_from_imgs(folder, str(existing), names, folder_keys(names))


def test_keys_that_basicsr_would_misread_are_rejected():
    for bad in ('0001.v2', 'my image', ''):
        with pytest.raises(ValueError, match='without dots or spaces'):
            check_lmdb_key(bad)
    check_lmdb_key('sub/0001_s001')


def test_meta_info_parser_reads_lines_with_and_without_compress_level():
    entry = parse_meta_info_line('0001_s001.png (480,480,3) 1\n')
    assert (entry.key, entry.shape, entry.compress_level) == ('0001_s001', (480, 480, 3), 1)
    assert parse_meta_info_line('a.png (2,3,1)').compress_level is None
    with pytest.raises(ValueError, match='is not'):
        parse_meta_info_line('a.png 480x480')


def test_mismatched_keys_and_paths_raise_before_anything_is_written(image_folder, tmp_path):
    folder, names, _ = image_folder
    lmdb_path = tmp_path / 'x.lmdb'
    with pytest.raises(ValueError, match='differ in length'):
        make_lmdb_from_imgs(folder, str(lmdb_path), names, folder_keys(names)[:-1])
    assert not lmdb_path.exists()
