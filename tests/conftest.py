"""Shared fixtures: a real Huzhou store built from the packages, the app, and a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.boundaries import Region, build_all
from layers.store import GeoPackageStore

ARTIFACTS = Path(__file__).parent / "artifacts"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(store_path: Path) -> str:
    """The real app under uvicorn on a free loopback port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "GONGFU_STORE_PATH": str(store_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=Path(__file__).parent.parent,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/conformance", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("server did not start")
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
