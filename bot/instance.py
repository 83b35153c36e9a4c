"""The store's files on disk: its folder and file modes, a one-process lock, a temp folder.

A SQLite store serves one bot process: a second one would poll, deliver and "recover" the
first one's jobs. `claim_store` takes an exclusive `flock` on `<store>.lock` for the life of
the process (the OS drops it when the process dies, even by `kill -9`), creates what is
missing with private modes (folder 0700, store 0600) and empties `<store>.tmp/`, where
downloads are written: whatever a killed bot left there is nobody's any more.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.jobs.store.private_files import (
    FILE_MODE,
    FOLDER_MODE,
    create_private_file,
    make_private_folder,
)


class StoreInUseError(Exception):
    """Another process holds the store."""


class StoreUnusableError(Exception):
    """DATABASE_PATH cannot be made into a store (a folder, no permission, a read-only disk)."""


@dataclass
class StoreClaim:
    """The held lock (released when the process ends, or by `release`) and the temp folder;
    a PostgreSQL store is shared, so its claim has no lock and a temp folder of its own."""

    lock_fd: int | None
    temp_dir: Path

    def release(self) -> None:
        if self.lock_fd is None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        else:
            os.close(self.lock_fd)  # closing the descriptor drops the flock


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock")


def temp_dir_for(store: Path) -> Path:
    return store.with_name(store.name + ".tmp")


def claim_store(store: Path) -> StoreClaim:
    """Lock `store` for this process and prepare its files; see the module's docstring."""
    try:
        make_private_folder(store.parent)
        lock_fd = os.open(lock_path(store), os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as error:
        raise StoreUnusableError(_reason(store, error)) from None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise StoreInUseError(
            f"another process holds the store {store} (stop it first, or set DATABASE_PATH "
            "to another file)"
        ) from None
    try:
        if store.is_dir():
            raise IsADirectoryError(21, "is a folder", str(store))
        create_private_file(store)
        temp = temp_dir_for(store)
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(mode=FOLDER_MODE)
    except OSError as error:
        os.close(lock_fd)
        raise StoreUnusableError(_reason(store, error)) from None
    return StoreClaim(lock_fd, temp)


def claim_temp_dir() -> StoreClaim:
    """For a shared (PostgreSQL) store: no lock, as several processes use it; downloads go
    to a private temp folder of this process, removed by `release`."""
    return StoreClaim(None, Path(tempfile.mkdtemp(prefix="miraflow-bot-")))


def _reason(store: Path, error: OSError) -> str:
    return f"DATABASE_PATH {store} cannot be used: {error.strerror or error}"
