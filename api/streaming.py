"""Streamed answers: byte chunks sent as they are produced, gzip-compressed on the fly when
the client accepts it (GZipMiddleware passes an answer that names its Content-Encoding)."""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from geo.byte_stream import Prefetched, accepts_gzip, gzipped


# An answer that ends within this many chunks / bytes is sent whole (with a length, gzipped
# by the app's middleware): streaming a 10-feature page chunk by chunk through the thread
# pool made small pages wait behind every other request's chunks under load.
WHOLE_CHUNKS = 4
WHOLE_BYTES = 64 * 1024


def streamed(request: Request, chunks: Iterable[bytes], media_type: str,
             headers: dict[str, str] | None = None, compress: bool = True) -> Response:
    """A response that sends `chunks` as they come (chunked transfer, no Content-Length).

    The first chunks are produced before the response starts, so an error in them is still a
    clean JSON error, and an answer that ends there is sent whole; later chunks are produced
    in a thread a few chunks ahead of the sender. `compress=False` for bytes that are
    compressed already (zip archives).
    """
    source = iter(chunks)
    head: list[bytes] = []
    try:
        for chunk in source:
            head.append(chunk)
            if len(head) >= WHOLE_CHUNKS or sum(map(len, head)) >= WHOLE_BYTES:
                break
        else:
            if compress:
                return Response(b"".join(head), media_type=media_type, headers=headers)
            source = iter(())
    except BaseException:
        _close(source)
        raise
    rest = Prefetched(source)
    body: Iterator[bytes] = itertools.chain(head, rest)
    headers = {**(headers or {}), "Vary": "Accept-Encoding"}
    if compress and accepts_gzip(request.headers.get("accept-encoding", "")):
        body = gzipped(body)
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(_closing(body, rest), media_type=media_type, headers=headers)


def _close(source: Iterator[bytes]) -> None:
    """Release what an unfinished source holds (a cursor, a pooled connection)."""
    close = getattr(source, "close", None)
    if close is not None:
        close()


def _closing(body: Iterator[bytes], source: Prefetched) -> Iterator[bytes]:
    """`body`, stopping the producer however the sending ends (a client may hang up)."""
    try:
        yield from body
    finally:
        source.close()
