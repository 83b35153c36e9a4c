"""The store's files on disk: its folder and file modes, a one-process lock, a temp folder.

A SQLite store serves one bot process: a second one would poll, deliver and "recover" the
first one's jobs. `claim_store` takes an exclusive `flock` on `<store>.lock` for the life of
the process (the OS drops it when the process dies, even by `kill -9`), creates what is
missing with private modes (folder 0700, store 0600) and empties `<store>.tmp/`, where
downloads are written: whatever a killed bot left there is nobody's any more.

A PostgreSQL store is shared by several processes: `claim_temp_dir` gives each its own
folder under one fixed root, and removes the folders of processes that died.
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

# Under the system's temp folder, one per user: `<root>/<pid>` per bot process.
TEMP_ROOT_PREFIX = "miraflow-bot-"


class StoreInUseError(Exception):
    """Another process holds the store."""


class StoreUnusableError(Exception):
    """DATABASE_PATH cannot be made into a store (a folder, no permission, a read-only disk)."""


@dataclass
class StoreClaim:
    """The held lock (released when the process ends, or by `release`) and the temp folder.
    A PostgreSQL store is shared, so its claim locks only this process's temp folder, which
    `release` removes."""

    lock_fd: int
    temp_dir: Path
    shared: bool = False

    def release(self) -> None:
        if self.shared:
            remove_process_folder(self.temp_dir)
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


def claim_temp_dir(root: Path | None = None) -> StoreClaim:
    """For a shared (PostgreSQL) store: no store lock, as several processes use it; downloads
    go to this process's folder `<root>/<pid>`, held by an flock on `<root>/<pid>.lock`.
    The folders of processes that died without removing theirs (`kill -9`) are removed
    first: nobody holds their lock any more."""
    root = root or Path(tempfile.gettempdir()) / f"{TEMP_ROOT_PREFIX}{os.getuid()}"
    try:
        make_private_folder(root)
        if root.stat().st_uid != os.getuid():
            raise PermissionError(1, "owned by another user", str(root))
        root.chmod(FOLDER_MODE)
        remove_dead_process_folders(root)
        return _claim_process_folder(root)
    except OSError as error:
        raise StoreUnusableError(
            f"the temp folder {root} cannot be used: {error.strerror or error}"
        ) from None


def remove_dead_process_folders(root: Path) -> None:
    """Remove every `<root>/<name>` (and its lock) whose lock no live process holds."""
    for folder in root.iterdir():
        if folder.suffix != ".lock" and not _lock_of(folder).exists():
            shutil.rmtree(folder, ignore_errors=True)  # its lock was removed before it
    for lock in root.glob("*.lock"):
        fd = _take(lock)
        if fd is not None:
            try:
                remove_process_folder(lock.with_suffix(""))
            finally:
                os.close(fd)


def remove_process_folder(folder: Path) -> None:
    """A process's temp folder, then its lock (the lock last: a folder without one is
    known to be nobody's)."""
    shutil.rmtree(folder, ignore_errors=True)
    _lock_of(folder).unlink(missing_ok=True)


def _claim_process_folder(root: Path) -> StoreClaim:
    """`<root>/<pid>`, or `<pid>-1`, ... when a process of another PID namespace (another
    container on a shared /tmp) holds that name."""
    for attempt in range(100):
        name = str(os.getpid()) + (f"-{attempt}" if attempt else "")
        folder = root / name
        fd = _take(_lock_of(folder))
        if fd is None:
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)  # a dead process's of the same PID
            folder.mkdir(mode=FOLDER_MODE)
        except OSError:
            os.close(fd)
            raise
        return StoreClaim(fd, folder, shared=True)
    raise BlockingIOError(11, "every name for this process is taken", str(root))


def _lock_of(folder: Path) -> Path:
    return folder.with_name(folder.name + ".lock")


def _take(lock: Path) -> int | None:
    """The descriptor of `lock` with its flock held, or None when a live process holds it."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _reason(store: Path, error: OSError) -> str:
    return f"DATABASE_PATH {store} cannot be used: {error.strerror or error}"
