# Gongfu Atlas — `make run` serves the map on http://127.0.0.1:8000, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STORE := data/build/atlas.gpkg
HOST ?= 127.0.0.1
PORT ?= 8000

OGCTESTS_VENV := .venv-ogctests

.PHONY: setup run test data system-deps clean ogctests

setup: $(STAMP) static/vendor/.installed

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

# Front-end packages from npm, copied where the app serves them (maps work offline).
static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf static/vendor && mkdir -p static/vendor
	cp -r node_modules/leaflet/dist static/vendor/leaflet
	mkdir -p static/vendor/leaflet.vectorgrid
	cp node_modules/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js static/vendor/leaflet.vectorgrid/
	mkdir -p static/vendor/leaflet-ant-path static/vendor/leaflet-textpath
	cp node_modules/leaflet-ant-path/dist/leaflet-ant-path.js node_modules/leaflet-ant-path/dist/leaflet-ant-path.js.map static/vendor/leaflet-ant-path/
	cp node_modules/leaflet-textpath/leaflet.textpath.js static/vendor/leaflet-textpath/
	mkdir -p static/vendor/echarts static/vendor/swagger-ui
	cp node_modules/echarts/dist/echarts.min.js static/vendor/echarts/
	cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js \
		node_modules/swagger-ui-dist/favicon-32x32.png static/vendor/swagger-ui/
	touch $@

# The `ogctests` OGC API conformance suite (PyPI) in its own venv: it pins httpx 0.27 and
# openapi-schema-validator < 0.7, which .venv's packages do not fit. tests/test_ogc_conformance.py
# runs it against a live server.
ogctests: $(OGCTESTS_VENV)/.installed

$(OGCTESTS_VENV)/.installed: constraints-ogctests.txt
	test -x $(OGCTESTS_VENV)/bin/python || python3 -m venv $(OGCTESTS_VENV)
	$(OGCTESTS_VENV)/bin/python -m pip install -q -c constraints-ogctests.txt ogctests==0.1.15
	touch $@

data: $(STORE)

$(STORE): $(STAMP)
	$(VENV)/bin/gongfu build --region 3305 --store $(STORE)

# Debian packages the tests drive as real clients: GDAL's ogrinfo, Chromium, a CJK font
# (so screenshots and printed maps show Chinese labels), poppler's pdftotext (reads printed
# PDFs back) and PostgreSQL 15 + PostGIS 3 (the PostGIS store's
# tests start their own throwaway cluster from these binaries), and QGIS's Python bindings with
# its data providers (tests/test_qgis_client.py runs QGIS headless as an OGC API client).
system-deps:
	@if ! command -v ogrinfo >/dev/null || ! test -x /usr/bin/chromium \
			|| ! fc-list :lang=zh 2>/dev/null | grep -q . \
			|| ! command -v pdftotext >/dev/null \
			|| ! test -x /usr/lib/postgresql/15/bin/initdb \
			|| ! test -f /usr/share/postgresql/15/extension/postgis.control \
			|| ! test -f /usr/lib/qgis/plugins/libprovider_wfs.so \
			|| ! /usr/bin/python3 -c 'import qgis.core' 2>/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			gdal-bin chromium fonts-wqy-microhei poppler-utils postgresql-15-postgis-3 \
			python3-qgis qgis-providers; \
	fi

run: setup data
	$(VENV)/bin/gongfu serve --host $(HOST) --port $(PORT)

test: setup system-deps data ogctests
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(OGCTESTS_VENV) node_modules static/vendor data/build
