"""Streamed answers: byte chunks sent as they are produced, gzip-compressed on the fly when
the client accepts it (GZipMiddleware passes an answer that names its Content-Encoding)."""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator

from fastapi import Request
from fastapi.responses import StreamingResponse

from geo.byte_stream import Prefetched, accepts_gzip, gzipped


def streamed(request: Request, chunks: Iterable[bytes], media_type: str,
             headers: dict[str, str] | None = None, compress: bool = True) -> StreamingResponse:
    """A response that sends `chunks` as they come (chunked transfer, no Content-Length).

    The first chunk is produced before the response starts, so an error in it is still a
    clean JSON error; later chunks are produced in a thread a few chunks ahead of the sender.
    `compress=False` for bytes that are compressed already (zip archives).
    """
    source = Prefetched(chunks)
    try:
        first = [next(source)]
    except StopIteration:
        first = []
    except BaseException:
        source.close()
        raise
    body: Iterator[bytes] = itertools.chain(first, source)
    headers = {**(headers or {}), "Vary": "Accept-Encoding"}
    if compress and accepts_gzip(request.headers.get("accept-encoding", "")):
        body = gzipped(body)
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(_closing(body, source), media_type=media_type, headers=headers)


def _closing(body: Iterator[bytes], source: Prefetched) -> Iterator[bytes]:
    """`body`, stopping the producer however the sending ends (a client may hang up)."""
    try:
        yield from body
    finally:
        source.close()
