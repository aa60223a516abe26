"""Streaming a multipart/form-data body into files, with the size limit counted on the bytes
actually received (a Content-Length header is only a promise; chunked bodies have none).

Each file part goes straight to disk in the given folder under a sanitised name (no path, no
odd characters, duplicates numbered); plain form fields are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request
from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect

from geo.errors import InvalidParameter, PayloadTooLarge

_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def _part_filename(disposition: bytes) -> str | None:
    _, params = parse_options_header(disposition)
    raw = params.get(b"filename")
    if raw is None:
        return None
    name = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    name = _SAFE_NAME.sub("_", name).strip("._") or "upload"
    stem, dot, ext = name.rpartition(".")
    if not dot:
        return name[:120]
    return f"{stem[:100]}.{ext[:10]}"  # shortened, but the extension says what the file is


async def receive(request: Request, folder: Path, max_bytes: int) -> list[str]:
    """Stream a multipart body's file parts into `folder`; returns the saved file names."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidParameter("请以 multipart/form-data 上传文件（字段 file）。",
                               "Send the files as multipart/form-data (field 'file').")
    too_big = PayloadTooLarge(
        f"上传超过 {max_bytes / 2**20:.0f} MB 上限。",
        f"The upload exceeds the {max_bytes / 2**20:.0f} MB limit.", limit_bytes=max_bytes)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + 64 * 1024:  # multipart overhead
        raise too_big
    saved: list[str] = []
    part: dict = {}

    def on_part_begin() -> None:
        part.clear()
        part["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["field"] = part.get("field", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"] = part.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        part["headers"][part.pop("field", b"").lower()] = part.pop("value", b"")

    def on_headers_finished() -> None:
        name = _part_filename(part["headers"].get(b"content-disposition", b""))
        if name is None:
            part["out"] = None  # a plain form field: ignored
            return
        stem, dot, ext = name.rpartition(".")
        candidate, n = name, 1
        while candidate in saved:
            n += 1
            candidate = f"{stem}_{n}{dot}{ext}" if dot else f"{name}_{n}"
        saved.append(candidate)
        part["out"] = open(folder / candidate, "wb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.get("out") is not None:
            part["out"].write(data[start:end])

    def on_part_end() -> None:
        if part.get("out") is not None:
            part["out"].close()

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise too_big
            parser.write(chunk)
        parser.finalize()
        if parser.state != MultipartState.END:  # the closing boundary never came
            raise InvalidParameter("上传不完整（multipart 请求体被截断）。",
                                   "Incomplete upload (the multipart body is truncated).")
    except ClientDisconnect:
        raise InvalidParameter("上传中断。", "The upload was interrupted.") from None
    except ParseError as error:
        # the parser's own text goes to the log (via the cause), not to the planner
        raise InvalidParameter("multipart 请求体格式错误。", "Malformed multipart body.") \
            from error
    finally:
        if part.get("out") is not None and not part["out"].closed:
            part["out"].close()
    if not saved:
        raise InvalidParameter("请求中没有文件。", "The request holds no file.")
    return saved
