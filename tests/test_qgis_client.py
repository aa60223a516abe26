"""QGIS (Debian python3-qgis, headless) reads our OGC API – Features with its own OAPIF
provider against a live server; the server's access log records what QGIS really asked.

QGIS 3.22 (Debian 12) pages with `limit` and sends the map extent as `bbox`, but has no CQL2:
a subset string is evaluated on the client after downloading the layer (QGIS sends `filter`
from 3.32 on, where /conformance declares cql2-text — we declare it). The number of requests
QGIS needs for one county's villages is written to tests/artifacts/qgis_requests.json: 6 with
the OpenAPI declaring `limit` (landing, OpenAPI, collection, a 10-row probe, 2 pages of 1,000).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

QGIS_PYTHON = "/usr/bin/python3"  # Debian's interpreter, which has the QGIS bindings
CLIENT = Path(__file__).parent / "fixtures" / "qgis_oapif.py"
_REQUEST = re.compile(r'"(?:GET|HEAD) (\S+) HTTP/')


def _qgis_missing() -> bool:
    try:
        return subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                              timeout=60).returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return True


@pytest.fixture(scope="module")
def qgis(tmp_path_factory: pytest.TempPathFactory):
    """`qgis(base, log, **spec)` runs QGIS once (fresh profile: no HTTP cache carried over);
    returns (QGIS's answer, the requests the server logged meanwhile)."""
    if _qgis_missing():
        message = "QGIS not installed (apt-get install python3-qgis qgis-providers)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    def run(base: str, log: Path, **spec) -> tuple[dict, list[str]]:
        home = tmp_path_factory.mktemp("qgis-home")
        before = log.stat().st_size
        done = subprocess.run(
            [QGIS_PYTHON, str(CLIENT), json.dumps({"url": base, **spec})],
            capture_output=True, text=True, timeout=240, cwd=home,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                 "XDG_RUNTIME_DIR": str(home), "QT_QPA_PLATFORM": "offscreen",
                 "LANG": "C.UTF-8"})
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, done.stdout[-2000:] + done.stderr[-2000:]
        with open(log, encoding="utf-8", errors="replace") as handle:
            handle.seek(before)
            requests = _REQUEST.findall(handle.read())
        return json.loads(lines[-1].removeprefix("RESULT ")), requests

    return run


@pytest.fixture(scope="module")
def server(start_server, store_path: Path,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A live server over the session's store, logging every request line it receives (the
    stores' filtering parity is tests/test_filtering.py's job)."""
    log = tmp_path_factory.mktemp("access") / "access.log"
    return start_server(store_path, access_log=log), log


def _items_requests(requests: list[str], layer: str) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r).query) for r in requests
            if urlsplit(r).path == f"/collections/{layer}/items"]


def test_qgis_shows_one_countys_villages_with_chinese_intact(qgis, server,
                                                            artifacts: Path) -> None:
    base, log = server
    answer, requests = qgis(base, log, typename="villages",
                            subset="county_code = '330523'",
                            fields=["code", "name", "county_name"])
    assert answer["valid"] and answer["subset_accepted"]
    rows = answer["features"]
    assert len(rows) == 218  # 安吉县's villages and communities
    assert {r["county_name"] for r in rows} == {"安吉县"}
    names = {r["name"] for r in rows}
    assert {"苕秀社区居委会", "桃城社区居委会"} <= names
    assert not any("\ufffd" in n or "?" in n for n in names)
    pages = _items_requests(requests, "villages")
    assert pages and all("limit" in page for page in pages)  # QGIS pages with limit
    sent_filter = any("filter" in page for page in pages)
    if answer["qgis_version"] >= 33200:  # QGIS with CQL2: the county filter goes to the server
        assert sent_filter
    else:  # QGIS 3.22: the whole registry comes down and QGIS filters it itself
        assert not sent_filter
        largest = max(int(page["limit"][0]) for page in pages)
        assert len(pages) >= math.ceil(1301 / largest)
        # the OpenAPI's declared limit lets QGIS take pages of 1,000 (100 without it: 15 pages)
        assert largest >= 1000 and len(pages) <= 3
    (artifacts / "qgis_requests.json").write_text(json.dumps({
        "qgis_version": answer["qgis_version"], "requests": len(requests),
        "items_requests": len(pages), "filter_sent": sent_filter, "requests_logged": requests,
    }, ensure_ascii=False, indent=1))


def test_qgis_sends_the_map_extent_as_bbox(qgis, server) -> None:
    base, log = server
    answer, requests = qgis(base, log, typename="counties", subset="name = '安吉县'",
                            rect=[119.5, 30.4, 119.9, 30.8], fields=["code", "name"])
    assert answer["valid"]
    assert [r["name"] for r in answer["features"]] == ["安吉县"]
    boxes = [page["bbox"][0] for page in _items_requests(requests, "counties") if "bbox" in page]
    assert boxes, requests
    minx, miny, maxx, maxy = (float(v) for v in boxes[-1].split(","))
    assert (minx, miny, maxx, maxy) == pytest.approx((119.5, 30.4, 119.9, 30.8), abs=1e-6)
