"""Shared fixtures: a real Huzhou store built from the packages, the app, and a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright import sync_api

from api.app import create_app
from api.settings import Settings
from layers.boundaries import Region, build_all
from layers.store import GeoPackageStore

import postgis_server  # tests/postgis_server.py

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `make test` installs it
# As root, headless, and quiet: without the background-networking flags Chromium keeps trying
# (and failing) to reach Google's hosts on this offline machine.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage with the Huzhou build, made once per test session."""
    path = tmp_path_factory.mktemp("store") / "atlas.gpkg"
    store = GeoPackageStore(path)
    for layer, frame in build_all(Region.parse("3305")):
        store.put(layer, frame)
    return path


@pytest.fixture(scope="session")
def store(store_path: Path) -> GeoPackageStore:
    return GeoPackageStore(store_path)


@pytest.fixture(scope="session")
def client(store_path: Path) -> TestClient:
    return TestClient(create_app(Settings(store_path=store_path)))


@pytest.fixture(scope="session")
def postgis() -> Iterator[postgis_server.Cluster]:
    """A private PostgreSQL 15 + PostGIS 3 cluster for the session (Debian packages; `make
    test` installs them). Missing binaries skip the PostGIS runs locally but fail under CI."""
    if not postgis_server.available():
        message = "PostgreSQL 15 + PostGIS 3 not installed (apt-get install postgresql-15-postgis-3)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with postgis_server.cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgis_copy(postgis: postgis_server.Cluster, store_path: Path):
    """`postgis_copy(name)`: a new PostGIS database holding the session's Huzhou build; its URL."""
    from layers.postgis_store import PostGISStore

    def copy(name: str) -> str:
        url = postgis.database(name)
        source, target = GeoPackageStore(store_path), PostGISStore(url, pool_size=1)
        for layer in source.layers():
            target.put(layer, source.frame(layer.id))
        target.close()
        return url

    return copy


@pytest.fixture(scope="session")
def postgis_url(postgis_copy) -> str:
    """A PostGIS database holding the same Huzhou build as `store_path` (read-only use)."""
    return postgis_copy("atlas")


@pytest.fixture(scope="session")
def postgis_client(postgis_url: str, store_path: Path) -> TestClient:
    """The app over the PostGIS copy of the Huzhou build."""
    return TestClient(create_app(Settings(store_path=store_path, database_url=postgis_url)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(store_path: Path, access_log: Path | None = None,
                   **env: str) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port over `store_path`; yields its URL.

    Extra settings go in as environment variables, e.g. GONGFU_MAP_TILES_THRESHOLD="3".
    With `access_log`, the server writes every request line it receives to that file (what a
    client really asked, recorded server-side).
    """
    port = _free_port()
    log = open(access_log, "w", encoding="utf-8") if access_log else None  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "info" if log else "warning"],
        env={**os.environ, "GONGFU_STORE_PATH": str(store_path), **env},
        cwd=Path(__file__).parent.parent, stdout=log, stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/conformance", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if log:
            log.close()


@pytest.fixture(scope="session")
def start_server() -> Iterator:
    """`start_server(store_path, **env)` starts another real server (stopped after the run)."""
    with ExitStack() as servers:
        yield lambda path, **env: servers.enter_context(running_server(path, **env))


@pytest.fixture(scope="session")
def live_server(start_server, store_path: Path) -> str:
    """The real app under uvicorn over the session's Huzhou store."""
    return start_server(store_path)


@pytest.fixture(scope="session")
def browser() -> Iterator[sync_api.Browser]:
    """Debian Chromium driven by Playwright (never a downloaded browser), launched once."""
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageWatch:
    """What a page did: requests to other hosts (aborted), errors, failed local requests."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return ([f"blocked {u}" for u in self.blocked] + self.errors
                + [f"failed {u}" for u in self.failed])


@pytest.fixture(scope="module")
def offline_page(browser: sync_api.Browser) -> Iterator:
    """A factory of browser pages with the network cut: only 127.0.0.1 is reachable.

    `offline_page(width=1280, height=800)` returns `(page, watch)`; contexts close afterwards.
    """
    contexts = []

    def open_page(width: int = 1280, height: int = 800) -> tuple[sync_api.Page, PageWatch]:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="zh-CN")
        contexts.append(context)
        page, watch = context.new_page(), PageWatch()

        def route(r: sync_api.Route) -> None:
            if urlsplit(r.request.url).hostname == "127.0.0.1":
                r.continue_()
            else:
                watch.blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: m.type == "error" and watch.errors.append(m.text))
        page.on("pageerror", lambda e: watch.errors.append(str(e)))
        # ERR_ABORTED is the page cancelling its own request (Leaflet drops tiles on zoom)
        page.on("requestfailed", lambda r: urlsplit(r.url).hostname == "127.0.0.1"
                and "ERR_ABORTED" not in (r.failure or "")
                and watch.failed.append(f"{r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and watch.failed.append(
            f"{r.url} {r.status}"))
        return page, watch

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
