"""Unpacking zip archives (zip, KMZ) that strangers send, without trusting anything in them.

Refused before a byte is written: absolute paths, drive letters and `..` parts (path
traversal), symlinks, too many members, a declared unpacked size over the limit, and a
compression ratio over the limit (zip bombs). While writing, the bytes actually inflated are
counted too, since a member's declared size can lie.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from geo.errors import PayloadTooLarge, UnreadableUpload, UnsafeUpload

_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class UnpackLimits:
    """Limits for one upload; sizes in bytes."""

    max_upload_bytes: int = 200 * 2**20  # on the wire
    max_unpacked_bytes: int = 1 * 2**30  # all archive members together
    max_ratio: float = 200.0  # unpacked / packed, per member and overall
    max_members: int = 5000


class Budget:
    """Bytes still allowed to be unpacked across every archive of one upload."""

    def __init__(self, limits: UnpackLimits) -> None:
        self.limits = limits
        self.left = limits.max_unpacked_bytes

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise _too_big(self.limits)


def _too_big(limits: UnpackLimits) -> PayloadTooLarge:
    mb = limits.max_unpacked_bytes / 2**20
    return PayloadTooLarge(
        f"压缩包解压后超过 {mb:.0f} MB 上限（疑似压缩炸弹）。",
        f"The archive unpacks to more than the {mb:.0f} MB limit (possible zip bomb).",
        limit_bytes=limits.max_unpacked_bytes,
    )


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path of an archive member, or UnsafeUpload if it could escape."""
    text = name.replace("\\", "/")
    path = PurePosixPath(text)
    if text.startswith("/") or _DRIVE.match(text) or ".." in path.parts or "\x00" in text:
        raise UnsafeUpload(
            f"压缩包内的路径“{name}”不安全（绝对路径或含 ..），已拒收，未写入任何内容。",
            f"Unsafe path '{name}' in the archive (absolute or containing '..'); "
            "refused, nothing written.",
            member=name,
        )
    return path


def unpack_zip(archive: Path, target: Path, budget: Budget) -> list[Path]:
    """Extract `archive` under `target` after checking every member; returns the files."""
    limits = budget.limits
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableUpload(
            f"“{archive.name}”不是有效的 zip 压缩包。",
            f"'{archive.name}' is not a valid zip archive.", file=archive.name,
        ) from error
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > limits.max_members:
            raise PayloadTooLarge(
                f"压缩包有 {len(members)} 个文件，超过 {limits.max_members} 个的上限。",
                f"The archive holds {len(members)} files, over the limit of "
                f"{limits.max_members}.", members=len(members),
            )
        declared = packed = 0
        for member in members:
            safe_member_path(member.filename)
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeUpload(
                    f"压缩包内的“{member.filename}”是符号链接，已拒收，未写入任何内容。",
                    f"'{member.filename}' in the archive is a symbolic link; refused, "
                    "nothing written.", member=member.filename,
                )
            if member.file_size > limits.max_ratio * max(member.compress_size, 1) \
                    and member.file_size > _CHUNK:
                raise _bomb(member.filename, limits)
            declared += member.file_size
            packed += member.compress_size
        if declared > budget.left:
            raise _too_big(limits)
        if declared > limits.max_ratio * max(packed, 1) and declared > _CHUNK:
            raise _bomb(archive.name, limits)
        written = []
        for member in members:
            rel = safe_member_path(member.filename)
            out = (target / rel).resolve()
            if not out.is_relative_to(target.resolve()):
                raise UnsafeUpload(
                    f"压缩包内的路径“{member.filename}”指向目录之外。",
                    f"Path '{member.filename}' in the archive points outside its folder.",
                    member=member.filename,
                )
            out.parent.mkdir(parents=True, exist_ok=True)
            _copy_counted(zf, member, out, budget)
            written.append(out)
    return written


def _bomb(name: str, limits: UnpackLimits) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"“{name}”的压缩比超过 {limits.max_ratio:.0f}:1（疑似压缩炸弹），已拒收。",
        f"'{name}' has a compression ratio over {limits.max_ratio:.0f}:1 (possible zip bomb); "
        "refused.", member=name, max_ratio=limits.max_ratio,
    )


def _copy_counted(zf: zipfile.ZipFile, member: zipfile.ZipInfo, out: Path, budget: Budget) -> None:
    """Inflate one member, counting real bytes (the declared size may lie)."""
    seen = 0
    try:
        with zf.open(member) as src, open(out, "wb") as dst:
            while chunk := src.read(_CHUNK):
                seen += len(chunk)
                if seen > member.file_size:
                    raise _bomb(member.filename, budget.limits)
                budget.spend(len(chunk))
                dst.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise UnreadableUpload(
            f"压缩包内的“{member.filename}”已损坏。",
            f"'{member.filename}' in the archive is corrupt.", member=member.filename,
        ) from error
    except (RuntimeError, NotImplementedError) as error:  # encrypted, or an unknown method
        raise UnreadableUpload(
            f"压缩包内的“{member.filename}”已加密或压缩方式不受支持。",
            f"'{member.filename}' in the archive is encrypted or uses an unsupported "
            "compression method.", member=member.filename,
        ) from error

