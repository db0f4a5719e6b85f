"""Byte-level file access behind one interface, so datasets read from folders or lmdb databases alike."""

from abc import ABC, abstractmethod
from typing import Union


class BaseStorageBackend(ABC):
    """A storage backend returns raw bytes (`get`) or text (`get_text`) for a path or key."""

    @abstractmethod
    def get(self, filepath: str) -> bytes:
        """Return the raw bytes stored at `filepath`."""

    @abstractmethod
    def get_text(self, filepath: str) -> str:
        """Return the text stored at `filepath`."""


class HardDiskBackend(BaseStorageBackend):
    """Read files from the local file system."""

    def get(self, filepath: str) -> bytes:
        with open(str(filepath), 'rb') as f:
            return f.read()

    def get_text(self, filepath: str) -> str:
        with open(str(filepath)) as f:
            return f.read()


class LmdbBackend(BaseStorageBackend):
    """Read values from one or more lmdb databases, each reachable by a client key (e.g. 'lq', 'gt').

    Keys inside a database are image names without extension, as written by scripts/data_preparation/create_lmdb.py.
    """

    def __init__(
        self,
        db_paths: Union[str, list[str]],
        client_keys: Union[str, list[str]] = 'default',
        readonly: bool = True,
        lock: bool = False,
        readahead: bool = False,
        **kwargs,
    ) -> None:
        try:
            import lmdb
        except ImportError as err:
            raise ImportError("io_backend type 'lmdb' needs the lmdb package: pip install lmdb") from err
        db_paths = [str(db_paths)] if isinstance(db_paths, str) else [str(p) for p in db_paths]
        client_keys = [client_keys] if isinstance(client_keys, str) else list(client_keys)
        if len(client_keys) != len(db_paths):
            raise ValueError(
                f'LmdbBackend got {len(db_paths)} db_paths but {len(client_keys)} client_keys '
                f'({client_keys}); give one client key per database.'
            )
        self.db_paths = dict(zip(client_keys, db_paths))
        self._client = {}
        for client_key, path in self.db_paths.items():
            try:
                self._client[client_key] = lmdb.open(path, readonly=readonly, lock=lock, readahead=readahead, **kwargs)
            except lmdb.Error as err:
                raise OSError(f"Cannot open lmdb database '{path}' (client key '{client_key}'): {err}") from err

    def get(self, filepath: str, client_key: str = 'default') -> bytes:
        if client_key not in self._client:
            raise KeyError(f"Unknown lmdb client key '{client_key}'; opened ones: {', '.join(self._client)}.")
        key = str(filepath)
        with self._client[client_key].begin(write=False) as txn:
            value = txn.get(key.encode('ascii'))
        if value is None:
            raise KeyError(
                f"Key '{key}' not found in lmdb database '{self.db_paths[client_key]}' "
                f"(client key '{client_key}'); check the database's meta_info.txt."
            )
        return value

    def get_text(self, filepath: str) -> str:
        raise NotImplementedError('The lmdb backend stores images only; read text files from disk.')


class FileClient:
    """Dispatch `get`/`get_text` to a backend chosen by name (BasicSR's io_backend: 'disk' or 'lmdb')."""

    _backends = {'disk': HardDiskBackend, 'lmdb': LmdbBackend}

    def __init__(self, backend: str = 'disk', **kwargs) -> None:
        if backend not in self._backends:
            raise ValueError(f"Unknown io_backend type '{backend}': use one of {', '.join(self._backends)}.")
        self.backend = backend
        self.client = self._backends[backend](**kwargs)

    def get(self, filepath: str, client_key: str = 'default') -> bytes:
        """Return the bytes at `filepath`; `client_key` selects the database for lmdb and is ignored on disk."""
        if self.backend == 'lmdb':
            return self.client.get(filepath, client_key)
        return self.client.get(filepath)

    def get_text(self, filepath: str) -> str:
        return self.client.get_text(filepath)
