"""Checks a shapefile set before GDAL reads it, and resolves its text encoding.

GDAL reads a truncated `.shp` or a `.dbf` whose header promises more records than it holds
with only a warning, silently losing features; here both are errors. Encoding order:
`.cpg` → the DBF language-driver byte → strict UTF-8 → GB18030, for values and field names.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from pathlib import Path

from geo.errors import UnreadableUpload

# DBF language-driver ids (byte 29) naming a code page; single-byte pages decode anything, so
# a strict decode only tests the multibyte ones.
LDID_CODEPAGES = {0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x4D: "gbk", 0x4E: "cp949",
                  0x4F: "big5", 0x7A: "gbk", 0x78: "big5", 0x79: "cp949", 0x7B: "cp932",
                  0x13: "cp932", 0x57: ""}  # 0x57 = "ANSI": the writer's locale, unknown
_CPG_ALIASES = {"936": "gbk", "65001": "utf-8", "950": "big5", "54936": "gb18030",
                "ansi 936": "gbk", "utf8": "utf-8"}
# GDAL (iconv) names for the Python codecs we pick; GB18030 is a superset of GBK/GB2312.
GDAL_NAMES = {"utf-8": "UTF-8", "gbk": "GB18030", "gb18030": "GB18030", "gb2312": "GB18030",
              "big5": "BIG5", "cp949": "CP949", "cp932": "CP932", "cp1252": "CP1252",
              "cp437": "CP437", "cp850": "CP850", "ascii": "UTF-8"}


@dataclass(frozen=True)
class DbfInfo:
    records: int
    ldid: int
    text: bytes  # field names and character values, to test encodings on


@dataclass(frozen=True)
class Encoding:
    codec: str  # Python codec name
    source: str  # "cpg" | "dbf-ldid" | "utf-8" | "gb18030" | "ascii"
    note_en: str = ""

    @property
    def gdal(self) -> str:
        return GDAL_NAMES.get(self.codec, self.codec.upper())


def _bad(name: str, zh: str, en: str) -> UnreadableUpload:
    return UnreadableUpload(f"“{name}”：{zh}", f"'{name}': {en}", file=name)


def check_shp(shp: Path, shx: Path | None) -> int:
    """Validate .shp (and .shx) headers against the file sizes; returns the shape count."""
    data = shp.read_bytes()
    if len(data) < 100 or struct.unpack(">i", data[:4])[0] != 9994:
        raise _bad(shp.name, "不是有效的 .shp 文件。", "not a valid .shp file.")
    declared = struct.unpack(">i", data[24:28])[0] * 2
    if declared != len(data):
        raise _bad(shp.name, f".shp 文件被截断（头部声明 {declared} 字节，实有 {len(data)}）。",
                   f".shp is truncated (header says {declared} bytes, file has {len(data)}).")
    if shx is None:
        raise _bad(shp.name, "缺少 .shx 索引文件。", "the .shx index file is missing.")
    index = shx.read_bytes()
    if len(index) < 100 or (len(index) - 100) % 8:
        raise _bad(shx.name, "不是有效的 .shx 文件。", "not a valid .shx file.")
    count = (len(index) - 100) // 8
    for i in range(count):
        offset, length = struct.unpack(">ii", index[100 + 8 * i: 108 + 8 * i])
        if (offset + 4 + length) * 2 > len(data):
            raise _bad(shp.name, f"第 {i + 1} 条记录超出 .shp 文件末尾（文件被截断）。",
                       f"record {i + 1} runs past the end of the .shp (truncated file).")
    return count


def read_dbf(dbf: Path) -> DbfInfo:
    """Header facts of a .dbf; raises if it holds fewer records than its header says."""
    data = dbf.read_bytes()
    if len(data) < 32:
        raise _bad(dbf.name, "不是有效的 .dbf 文件。", "not a valid .dbf file.")
    records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    if header_len < 33 or record_len < 1 or header_len > len(data):
        raise _bad(dbf.name, "不是有效的 .dbf 文件。", "not a valid .dbf file.")
    if header_len + records * record_len > len(data):
        held = (len(data) - header_len) // record_len
        raise _bad(dbf.name, f"头部声明 {records} 条记录，实际只有 {held} 条。",
                   f"the header declares {records} records but the file holds {held}.")
    text = bytearray()
    fields = []  # (offset in record, length) of character fields
    offset = 1  # each record starts with a deletion flag byte
    pos = 32
    while pos + 32 <= header_len and data[pos] != 0x0D:
        desc = data[pos:pos + 32]
        text += desc[:11].split(b"\x00", 1)[0] + b" "
        if desc[11:12] in (b"C", b"M"):
            fields.append((offset, desc[16]))
        offset += desc[16]
        pos += 32
    for r in range(records):
        start = header_len + r * record_len
        for off, length in fields:
            text += data[start + off: start + off + length].rstrip(b" \x00") + b" "
    return DbfInfo(records, data[29], bytes(text))


def _codec(name: str) -> str | None:
    key = name.strip().lower()
    key = _CPG_ALIASES.get(key, key)
    if key.isdigit():
        key = f"cp{key}"
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _decodes(raw: bytes, codec: str) -> bool:
    try:
        raw.decode(codec, errors="strict")
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def resolve_encoding(cpg_text: str | None, dbf: DbfInfo, name: str) -> Encoding:
    """The encoding of a .dbf: .cpg → language byte → strict UTF-8 → GB18030."""
    raw = dbf.text
    notes = []
    if cpg_text is not None:
        codec = _codec(cpg_text)
        if codec and _decodes(raw, codec):
            return Encoding(codec, "cpg")
        notes.append(f".cpg says '{cpg_text.strip()}' but the values do not decode with it")
    ldid_codec = LDID_CODEPAGES.get(dbf.ldid, "")
    if ldid_codec and _decodes(raw, ldid_codec):
        return Encoding(codecs.lookup(ldid_codec).name, "dbf-ldid",
                        f"language driver 0x{dbf.ldid:02X}")
    if raw.isascii():
        return Encoding("ascii", "ascii", "; ".join(notes))
    for codec in ("utf-8", "gb18030"):
        if _decodes(raw, codec):
            return Encoding(codec, codec, "; ".join(notes))
    raise _bad(name, "无法确定文字编码（非 UTF-8 也非 GB18030），请附上 .cpg 文件。",
               "cannot determine the text encoding (neither UTF-8 nor GB18030); add a .cpg file.")
