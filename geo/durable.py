"""Durable, atomic file replacement: the new file's bytes reach the disk before it takes the
old one's name, and the rename itself reaches the disk before we say "saved".

Without the first fsync a power cut can leave an empty or truncated file under the final name
(ext4's delayed allocation); without the directory fsync the rename can be lost, so an upload
that got a 2xx would be missing after a restart.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's data and metadata to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (renames, links, unlinks) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move a fully written `tmp` over `target` durably (same filesystem: same folder)."""
    fsync_file(tmp)
    os.replace(tmp, target)
    fsync_dir(Path(target).parent)


def link(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Hard-link a fully written `tmp` to `target` durably; FileExistsError if it exists."""
    fsync_file(tmp)
    os.link(tmp, target)
    fsync_dir(Path(target).parent)


# SQLite (GeoPackage) writes a "-journal" (or "-wal"/"-shm") beside the file it changes.
_TEMP = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp(\.\w+)?(-journal|-wal|-shm)?$")


def temp_path(folder: str | os.PathLike[str], stem: str, suffix: str = "") -> Path:
    """A new, empty, private (0600) file in `folder` to write before `replace`: its name
    carries our process id, so `sweep` can tell a dead writer's leftovers from live work."""
    path = Path(folder) / f".{stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}"
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return path


def sweep(folder: str | os.PathLike[str]) -> int:
    """Remove temp files left by writers that no longer run (killed mid-write: SIGKILL, power
    cut); a live process's temp files are left alone. Returns how many were removed."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = _TEMP.match(name)
        if match is None or _alive(int(match["pid"])):
            continue
        try:
            (Path(folder) / name).unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True
