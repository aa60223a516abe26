"""Run a risky function (parsing a stranger's file with GDAL) in a child process with limits,
so a crash, hang or memory blow-up costs that child, never the server.

The child comes from a forkserver (started once, with numpy/shapely/geopandas preloaded, so
each child starts in milliseconds) and, before it runs the function:
- gets hard limits: address space (its size at start + `memory_mb`), CPU seconds;
- sets `GDAL_SKIP` so that drivers able to reach other files or the network (VRT and its
  OGR twin, the CSV and XML readers we replace with our own code, web services) are never
  registered — a file named .geojson that is really a VRT cannot open /etc/passwd or a
  /vsicurl/ URL. GDAL (pyogrio) is imported only after that, in the child.
The parent waits at most `wall_s`; the result (or the typed error) comes back pickled.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import resource
import signal
import sys
import threading
import types
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from geo.errors import AtlasError, InvalidData

# Drivers a planner's upload never needs and that can read beyond the file given.
SKIPPED_DRIVERS = ("VRT", "OGR_VRT", "CSV", "KML", "LIBKML", "GML", "WFS", "OAPIF", "ESRIC",
                   "PLSCENES", "NGW", "DXF", "SQLite", "PGDUMP", "XLSX", "ODS", "WMS", "WMTS",
                   "HTTP")
_PRELOAD = ["numpy", "pandas", "shapely", "pyproj", "geopandas"]
_lock = threading.Lock()
_main_lock = threading.Lock()
_context: Any = None


@dataclass(frozen=True)
class Limits:
    """What one child may use: seconds of wall clock and CPU, MB of memory beyond its start."""

    wall_s: float = 120.0
    cpu_s: int = 120
    memory_mb: int = 2048


class ParseCrashed(InvalidData):
    code = "parse_crashed"


class ParseTimeout(InvalidData):
    code = "parse_timeout"


class ParseTooLarge(InvalidData):
    code = "parse_out_of_memory"


def _ctx() -> Any:
    global _context
    with _lock:
        if _context is None:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(_PRELOAD)
    return _context


_NO_MAIN = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to re-import


def _start_without_main(process: Any) -> None:
    """Start `process` without asking it to import the parent's main script first.

    A forkserver child re-runs the parent's `__main__` (for `gongfu serve`, the whole command
    line: typer, rich, every subcommand; ~0.3 s of CPU) before it runs anything, so that
    functions defined there can be unpickled. Ours are named by module path, never defined in
    a main script, so the main is hidden while the child's start-up data is taken.
    """
    with _main_lock:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = _NO_MAIN
        try:
            process.start()
        finally:
            sys.modules["__main__"] = main


def _vm_bytes() -> int:
    """This process's address-space size now (Linux /proc), 0 if unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _child(conn: Connection, limits: Limits, target: str, args: tuple, kwargs: dict) -> None:
    # The target is named, not pickled, so that GDAL is imported only after GDAL_SKIP is set.
    os.environ["GDAL_SKIP"] = " ".join(SKIPPED_DRIVERS)  # GDAL reads it space-separated
    os.environ["GDAL_HTTP_TIMEOUT"] = "1"
    cap = _vm_bytes() + limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
    try:
        module, _, name = target.partition(":")
        function = getattr(importlib.import_module(module), name)
        result = ("ok", function(*args, **kwargs))
    except AtlasError as error:
        result = ("error", error)
    except MemoryError:
        result = ("memory", None)
    except BaseException as error:  # noqa: BLE001 - reported as a crash, logged by the parent
        result = ("crash", f"{type(error).__name__}: {error}"[:500])
    try:
        conn.send(result)
    except Exception:  # noqa: BLE001 - e.g. an unpicklable result: the parent sees a crash
        conn.send(("crash", "result could not be returned"))
    conn.close()


def run_limited(target: str, *args: Any, sandbox: Limits = Limits(), what: str = "file",
                **kwargs: Any) -> Any:
    """`module:function` called with `*args, **kwargs` in a limited child; its AtlasError
    re-raised here, any other failure a bilingual 422 (`ParseCrashed`, `ParseTimeout`,
    `ParseTooLarge`)."""
    ctx = _ctx()
    parent, child = ctx.Pipe(duplex=False)
    limits = sandbox
    process = ctx.Process(target=_child, args=(child, limits, target, args, kwargs),
                          daemon=True)
    _start_without_main(process)
    child.close()
    try:
        if not parent.poll(limits.wall_s):
            raise ParseTimeout(
                f"解析“{what}”超过 {limits.wall_s:g} 秒仍未完成，已中止。请检查文件是否损坏或过大。",
                f"Reading '{what}' took longer than {limits.wall_s:g} s and was stopped. "
                "Check that the file is not damaged or too large.", file=what)
        try:
            kind, value = parent.recv()
        except EOFError:  # the child died without answering (segfault, killed by a limit)
            process.join(5)
            kind, value = "died", f"exit code {process.exitcode}"
    finally:
        parent.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    # How a child that died without answering died; one that answered may still have been
    # killed above while it was closing, which says nothing.
    died = kind == "died"
    if kind == "memory" or (died and process.exitcode == -signal.SIGKILL):
        raise ParseTooLarge(
            f"解析“{what}”所需内存超过 {limits.memory_mb} MB 上限，已中止。",
            f"Reading '{what}' needed more than the {limits.memory_mb} MB memory limit and "
            "was stopped.", file=what)
    if died and process.exitcode == -signal.SIGXCPU:
        raise ParseTimeout(
            f"解析“{what}”的计算时间超过 {limits.cpu_s} 秒上限，已中止。",
            f"Reading '{what}' used more than {limits.cpu_s} s of CPU and was stopped.",
            file=what)
    error = ParseCrashed(
        f"文件“{what}”无法解析（解析程序异常退出），请检查文件是否损坏。",
        f"The file '{what}' could not be read (the reader failed); check that it is not "
        "damaged.", file=what)
    error.__cause__ = RuntimeError(str(value))  # for the server log, not the answer
    raise error
