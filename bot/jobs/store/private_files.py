"""The store's folder and files, created readable by this user only (folder 0700, files 0600).

Every opener of a SQLite store (the bot, `miraflow-bot check`, the bench, the tests) goes
through the store's connection, which creates them here: modes are set at creation, and
a store's files keep them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private_folder(folder: Path) -> None:
    """`folder` and its missing parents, each 0700; an existing folder is left as it is."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        try:
            each.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            if each.is_dir():  # another process made it meanwhile
                continue
            raise
        each.chmod(FOLDER_MODE)  # the umask may have taken bits away; never added


def create_private_file(path: Path) -> None:
    """An empty file readable by this user only, unless one is there already.
    SQLite gives a store's -wal and -shm files the mode of the store."""
    if path.exists():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
