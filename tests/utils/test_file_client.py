import sys

import pytest

from basicsr.utils.file_client import FileClient


def _make_lmdb(path, items):
    lmdb = pytest.importorskip('lmdb')
    env = lmdb.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        for key, value in items.items():
            txn.put(key.encode('ascii'), value)
    env.close()
    return str(path)


def test_disk_backend_reads_bytes_and_text(tmp_path):
    path = tmp_path / 'file.txt'
    path.write_text('hello')
    client = FileClient('disk')
    assert client.get(str(path)) == b'hello'
    assert client.get(path, 'gt') == b'hello'
    assert client.get_text(str(path)) == 'hello'


def test_disk_backend_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.png'):
        FileClient('disk').get(str(tmp_path / 'missing.png'))


def test_unknown_backend_is_rejected_with_the_known_ones():
    with pytest.raises(ValueError, match='disk'):
        FileClient('ftp')


def test_lmdb_backend_reads_values_by_client_key(tmp_path):
    lq_db = _make_lmdb(tmp_path / 'lq.lmdb', {'0001': b'low'})
    gt_db = _make_lmdb(tmp_path / 'gt.lmdb', {'0001': b'high'})
    client = FileClient('lmdb', db_paths=[lq_db, gt_db], client_keys=['lq', 'gt'])
    assert client.get('0001', 'lq') == b'low'
    assert client.get('0001', 'gt') == b'high'


def test_lmdb_backend_accepts_single_path_and_default_key(tmp_path):
    db = _make_lmdb(tmp_path / 'one.lmdb', {'k': b'v'})
    assert FileClient('lmdb', db_paths=db).get('k') == b'v'


def test_lmdb_missing_key_raises_keyerror_naming_key_and_database(tmp_path):
    db = _make_lmdb(tmp_path / 'gt.lmdb', {'0001': b'x'})
    client = FileClient('lmdb', db_paths=[db], client_keys=['gt'])
    with pytest.raises(KeyError, match=r'0002.*gt\.lmdb'):
        client.get('0002', 'gt')
    with pytest.raises(KeyError, match="'lq'"):
        client.get('0001', 'lq')


def test_lmdb_backend_needs_one_client_key_per_database(tmp_path):
    db = _make_lmdb(tmp_path / 'a.lmdb', {'k': b'v'})
    with pytest.raises(ValueError, match='client_keys'):
        FileClient('lmdb', db_paths=[db, db], client_keys=['lq'])


def test_lmdb_backend_has_no_text_access(tmp_path):
    db = _make_lmdb(tmp_path / 'a.lmdb', {'k': b'v'})
    with pytest.raises(NotImplementedError):
        FileClient('lmdb', db_paths=db).get_text('k')


def test_lmdb_missing_database_is_reported_with_its_path(tmp_path):
    pytest.importorskip('lmdb')
    with pytest.raises(OSError, match='nowhere.lmdb'):
        FileClient('lmdb', db_paths=str(tmp_path / 'nowhere.lmdb'))


def test_lmdb_backend_without_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'lmdb', None)
    with pytest.raises(ImportError, match='pip install lmdb'):
        FileClient('lmdb', db_paths=str(tmp_path / 'x.lmdb'))
