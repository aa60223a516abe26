/* The 一张图 workspace (page at `/`, elements in maps/elements/workspace.py).
 *
 * Parts, each started by its element with JSON options: `start` (messages, language switch,
 * cursor and CRS status), `catalogue` (图层目录 from GET /catalogue, drawing, identify),
 * `basemaps` (底图 from GET /workspace/config, 地名注记), `search` (GET /search),
 * `downloads` (download dialog → a plain link) and `printing` (links to GET /print).
 * Every label comes from the zh/en catalogue (maps/messages.py); Chinese by default, the
 * choice remembered in localStorage. A missing endpoint reduces its part, never the page.
 * Nothing leaves the machine unless the planner picks an online basemap.
 */
(function (global) {
    "use strict";

    var esc = global.Atlas.esc;
    var LANG_KEY = "gongfu.workspace.lang";
    var GCJ = "GCJ-02";
    var CODE = /^\d{6}(\d{3}){0,2}$/;  // 区县 6, 乡镇 9, 村 12 digits: a fact sheet exists
    var GEOMETRY_ORDER = {Raster: 0, MultiPolygon: 1, Polygon: 1, MultiLineString: 2,
                          LineString: 2, MultiPoint: 3, Point: 3};
    var EMPTY_THEMES_SHOWN = ["admin", "axes", "ecology", "indicators", "mine"];
    var FALLBACK_COLOURS = ["#3b7dd8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"];

    var S = {
        map: null, lang: "zh", messages: {}, root: "", listeners: [],
        catalogue: null, layers: {}, order: [], gcj: false,
        config: undefined,  // the /workspace/config document; null: not available
        choices: null, encodedFormats: [], basemap: null, placeNames: null
    };

    /* ---- messages and language ---------------------------------------------------- */

    function t(key) {
        var m = S.messages[S.lang] || {};
        return key in m ? m[key] : ((S.messages.zh || {})[key] || key);
    }

    /* A config or catalogue entry's name in the current language (zh when no en). */
    function named(o) {
        if (S.lang === "en") {
            return o.name_en || o.title_en || o.name_zh || o.title_zh || o.name || o.id;
        }
        return o.name_zh || o.title_zh || o.name || o.name_en || o.title_en || o.id;
    }

    function relabel(root) {
        root.querySelectorAll("[data-i18n]").forEach(function (el) {
            el.textContent = t(el.getAttribute("data-i18n"));
        });
        root.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
            el.placeholder = t(el.getAttribute("data-i18n-placeholder"));
        });
    }

    function setLang(lang) {
        S.lang = lang === "en" ? "en" : "zh";
        try { global.localStorage.setItem(LANG_KEY, S.lang); } catch (e) { /* private mode */ }
        document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
        var button = document.getElementById("ws-lang");
        button.textContent = t("lang_switch");
        button.lang = S.lang === "zh" ? "en" : "zh-CN";
        relabel(document);
        S.listeners.forEach(function (fn) { fn(); });
    }

    function onLang(fn) { S.listeners.push(fn); }

    function el(tag, attrs, html) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (k) {
            if (k === "className") { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
        });
        if (html != null) { node.innerHTML = html; }
        return node;
    }

    function getJSON(url) {
        return fetch(url, {headers: {Accept: "application/json"}}).then(function (r) {
            if (!r.ok) { throw new Error(url + " " + r.status); }
            return r.json();
        });
    }

    /* `url` with `key=value` added (URL templates with {z}/{x}/{y} kept as they are). */
    function withParam(url, key, value) {
        return url + (url.indexOf("?") < 0 ? "?" : "&") + key + "=" + encodeURIComponent(value);
    }

    /* Overlays follow the basemap's datum: GCJ-02 basemaps get every overlay shifted. */
    function shifted(url) { return S.gcj ? withParam(url, "crs", GCJ) : url; }

    function viewBbox() {
        var b = S.map.getBounds();
        return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
            .map(function (v) { return v.toFixed(5); }).join(",");
    }

    function start(map, o) {
        S.map = map;
        S.root = o.root || "";
        S.messages = o.messages;
        var saved = null;
        try { saved = global.localStorage.getItem(LANG_KEY); } catch (e) { /* private mode */ }
        document.getElementById("ws-lang").addEventListener("click", function () {
            setLang(S.lang === "zh" ? "en" : "zh");
        });
        document.getElementById("ws-panel-toggle").addEventListener("click", function () {
            document.body.classList.toggle("ws-panel-hidden");
            map.invalidateSize();
        });
        var cursor = document.getElementById("ws-cursor");
        map.on("mousemove", function (e) {
            cursor.textContent = t("lon") + " " + e.latlng.lng.toFixed(5) + "°  " +
                t("lat") + " " + e.latlng.lat.toFixed(5) + "°";
        });
        map.on("mouseout", function () { cursor.textContent = ""; });
        document.addEventListener("keydown", function (e) {
            if (e.key === "Escape") { closeDialogs(); }
        });
        onLang(crsStatus);
        setLang(saved || "zh");
    }

    function crsStatus() {
        document.getElementById("ws-crs").textContent = t(S.gcj ? "crs_status_gcj" : "crs_status");
    }

    /* ---- the layer catalogue ------------------------------------------------------ */

    /* A field dictionary entry "面积（亩）area in mu…" as its Chinese or English part. */
    function fieldLabel(text, key) {
        if (!text) { return key; }
        var m = /^(.*?[\u3000-\u9fff\uff00-\uffef])\s*([A-Za-z0-9(].*)$/.exec(text);
        if (!m) { return text; }
        return S.lang === "en" ? m[2] : m[1];
    }

    function styleFor(meta) {
        var base = S.styles[meta.id];
        if (base) { return base; }
        var n = S.order.indexOf(meta.id), colour = FALLBACK_COLOURS[n % FALLBACK_COLOURS.length];
        if (/Point/.test(meta.geometry_type)) {
            return {radius: 5, color: "#fff", weight: 1.5, fill: true, fillColor: colour, fillOpacity: 0.95};
        }
        if (/Line/.test(meta.geometry_type)) { return {color: colour, weight: 2.5, fill: false}; }
        return {color: colour, weight: 1, fill: true, fillColor: colour, fillOpacity: 0.35};
    }

    /* The Leaflet style of one feature (`palette` fills by numeric code). */
    function featureStyle(meta, p) {
        var s = Object.assign({}, styleFor(meta));
        if (s.palette) {
            // inline layers colour by rank of the sorted codes (neighbours differ), tiles by code
            var ranks = S.layers[meta.id].ranks || {}, code = p && p.code;
            var n = code in ranks ? ranks[code] : (parseInt(code, 10) || 0);
            s.fillColor = s.palette[n % s.palette.length];
            delete s.palette;
        }
        return s;
    }

    function swatch(meta) {
        if (meta.kind === "raster") {
            var span = el("span", {className: "ws-swatch", "data-legend": meta.id});
            span.style.background = "linear-gradient(90deg, #ffffe5, #78c679, #004529)";
            return span;
        }
        var s = styleFor(meta), node = el("span", {className: "ws-swatch"});
        if (/Point/.test(meta.geometry_type)) {
            node.className += " ws-swatch-point";
            node.style.background = s.fillColor;
            node.style.boxShadow = "0 0 0 1px #999";
        } else if (/Line/.test(meta.geometry_type)) {
            node.className += " ws-swatch-line";
            node.style.borderTop = Math.max(2, s.weight || 2) + "px " +
                (s.dashArray ? "dashed " : "solid ") + s.color;
        } else {
            var fill = s.palette ? "linear-gradient(90deg, " + s.palette[0] + " 50%, " +
                s.palette[3] + " 50%)" : (s.fill === false ? "transparent" : (s.fillColor || s.color));
            node.style.background = fill;
            node.style.border = (s.fill === false ? Math.min(3, s.weight || 1) : 1) + "px solid " + s.color;
        }
        return node;
    }

    /* Source, licence, CRS of origin and date on one line (the note, if any, below). */
    function provenanceLine(meta) {
        var p = meta.provenance || {}, parts = [];
        [["provenance", p.source], ["licence", p.license], ["crs_of_origin", p.crs_of_origin],
         ["date", p.date]].forEach(function (pair) {
            if (pair[1]) { parts.push("<b>" + esc(t(pair[0])) + "</b> " + esc(pair[1])); }
        });
        return parts.join(" · ") + (p.note ? '<div class="ws-prov-note">' + esc(p.note) + "</div>" : "");
    }

    function layerEntry(meta) {
        var state = S.layers[meta.id], drawable = meta.kind === "raster" || !!meta.links.tiles;
        var box = el("div", {className: "ws-layer" + (drawable ? "" : " ws-registry"),
                             "data-layer": meta.id});
        var row = el("div", {className: "ws-layer-row"});
        var label = el("label");
        var toggle = el("input", {type: "checkbox", className: "ws-toggle"});
        toggle.checked = state.on;
        toggle.disabled = !drawable;
        toggle.addEventListener("change", function () { setVisible(meta.id, toggle.checked); });
        label.appendChild(toggle);
        if (drawable) { label.appendChild(swatch(meta)); }
        label.appendChild(el("span", {className: "ws-layer-title"},
            esc(named(meta)) + (drawable ? "" : " <small>" + esc(t("registry")) + "</small>")));
        row.appendChild(label);
        if (meta.provenance && meta.provenance.illustrative) {
            row.appendChild(el("span", {className: "ws-badge", title: t("badge_illustrative_title")},
                               esc(t("badge_illustrative"))));
        }
        var more = el("button", {type: "button", className: "ws-more", title: t("details"),
                                 "aria-expanded": "false"}, state.expanded ? "▾" : "▸");
        row.appendChild(more);
        box.appendChild(row);

        var details = el("div", {className: "ws-details"});
        var controls = el("div", {className: "ws-controls"});
        if (drawable) {
            var opacity = el("label", {}, esc(t("opacity")) + " ");
            var range = el("input", {type: "range", min: "0", max: "100", className: "ws-opacity",
                                     "aria-label": t("opacity")});
            range.value = String(Math.round(state.opacity * 100));
            range.addEventListener("input", function () { setOpacity(meta.id, range.value / 100); });
            opacity.appendChild(range);
            controls.appendChild(opacity);
            var zoom = el("button", {type: "button", className: "ws-small-button ws-zoom"}, esc(t("zoom_to")));
            zoom.addEventListener("click", function () { zoomTo(meta); });
            controls.appendChild(zoom);
        }
        if (meta.links.download) {
            var download = el("button", {type: "button", className: "ws-small-button ws-download"},
                              esc(t("download")));
            download.addEventListener("click", function () { openDownload(meta); });
            controls.appendChild(download);
        }
        details.appendChild(controls);
        details.appendChild(el("div", {className: "ws-prov"}, provenanceLine(meta)));
        details.hidden = !state.expanded;
        more.addEventListener("click", function () {
            details.hidden = !details.hidden;
            state.expanded = !details.hidden;
            more.textContent = details.hidden ? "▸" : "▾";
            more.setAttribute("aria-expanded", String(!details.hidden));
        });
        more.textContent = details.hidden ? "▸" : "▾";
        box.appendChild(details);
        state.box = box;
        return box;
    }

    function renderCatalogue() {
        var panel = document.getElementById("ws-catalogue");
        if (!S.catalogue) { return; }
        panel.innerHTML = "";
        S.catalogue.themes.forEach(function (theme) {
            var members = S.catalogue.layers.filter(function (l) { return l.theme === theme.id; });
            // the planners' themes stay listed when empty (a hint says so); 其他 only when used
            if (!members.length && EMPTY_THEMES_SHOWN.indexOf(theme.id) < 0) { return; }
            var group = el("div", {className: "ws-theme", "data-theme": theme.id});
            group.appendChild(el("h3", {}, esc(named(theme))));
            members.forEach(function (meta) { group.appendChild(layerEntry(meta)); });
            if (!members.length) {
                group.appendChild(el("div", {className: "ws-hint ws-theme-empty"},
                                     esc(t(theme.id === "mine" ? "theme_empty_mine" : "theme_empty"))));
            }
            panel.appendChild(group);
        });
    }

    function paneOf(meta) {
        var name = "ws-" + meta.id;
        if (!S.map.getPane(name)) {
            var pane = S.map.createPane(name);
            // rasters under areas under lines under points, catalogue order within each
            pane.style.zIndex = String(300 + 40 * (GEOMETRY_ORDER[meta.geometry_type] || 1) +
                                       S.order.indexOf(meta.id));
        }
        return name;
    }

    function tooltipText(meta, p) {
        return "<b>" + esc(p.name || p.code || "") + "</b> <small>" + esc(named(meta)) + "</small>";
    }

    function tiledLayer(meta, pane) {
        var styles = {};
        styles[meta.id] = function (p) { return featureStyle(meta, p); };
        var layer = L.vectorGrid.protobuf(shifted(meta.links.tiles), {
            pane: pane, rendererFactory: L.svg.tile, interactive: true, maxNativeZoom: 14,
            vectorTileLayerStyles: styles,
            getFeatureId: function (f) { return f.properties.code; }
        });
        var tip = null;
        layer.on("mouseover", function (e) {
            if (tip) { S.map.closeTooltip(tip); }
            tip = L.tooltip({sticky: true}).setLatLng(e.latlng)
                .setContent(tooltipText(meta, e.layer.properties)).addTo(S.map);
        });
        layer.on("mousemove", function (e) { if (tip) { tip.setLatLng(e.latlng); } });
        layer.on("mouseout", function () { if (tip) { S.map.closeTooltip(tip); tip = null; } });
        layer.on("click", function (e) {
            L.DomEvent.stop(e);
            identify(meta, e.layer.properties, e.latlng);
        });
        return Promise.resolve(layer);
    }

    function inlineLayer(meta, pane) {
        var url = shifted(withParam(meta.links.items, "f", "json") + "&limit=10000");
        return getJSON(url).then(function (fc) {
            var ranks = S.layers[meta.id].ranks = {};
            fc.features.map(function (f) { return String(f.properties.code); }).sort()
                .forEach(function (code, i) { ranks[code] = i; });
            return L.geoJSON(fc, {
                pane: pane,
                style: function (f) { return featureStyle(meta, f.properties); },
                pointToLayer: function (f, latlng) {
                    return L.circleMarker(latlng, Object.assign(featureStyle(meta, f.properties),
                                                                {pane: pane}));
                },
                onEachFeature: function (f, layer) {
                    layer.bindTooltip(tooltipText(meta, f.properties), {sticky: true});
                    layer.on("click", function (e) {
                        L.DomEvent.stop(e);
                        identify(meta, f.properties, e.latlng);
                    });
                }
            });
        });
    }

    function rasterLayer(meta, pane) {
        return Promise.resolve(L.tileLayer(shifted(meta.links.tiles), {
            pane: pane, maxZoom: 19, maxNativeZoom: 14, attribution: esc(named(meta))
        }));
    }

    function build(meta) {
        var pane = paneOf(meta);
        if (meta.kind === "raster") { return rasterLayer(meta, pane); }
        return S.drawing[meta.id] === "inline" ? inlineLayer(meta, pane) : tiledLayer(meta, pane);
    }

    function setVisible(id, on) {
        var state = S.layers[id];
        if (!state) { return; }
        state.on = on;
        state.generation += 1;
        if (state.leaflet) { S.map.removeLayer(state.leaflet); state.leaflet = null; }
        if (on) {
            var generation = state.generation;
            build(state.meta).then(function (layer) {
                if (state.generation !== generation || !state.on) { return; }
                state.leaflet = layer.addTo(S.map);
                setOpacity(id, state.opacity);
            }).catch(function () {
                if (state.box) { state.box.querySelector(".ws-prov").insertAdjacentHTML(
                    "afterbegin", '<div class="ws-hint">' + esc(t("load_failed")) + "</div>"); }
            });
        }
        if (state.box) { state.box.querySelector(".ws-toggle").checked = on; }
        S.listeners.forEach(function (fn) { if (fn.onLayers) { fn(); } });
    }

    function setOpacity(id, value) {
        var state = S.layers[id];
        state.opacity = value;
        var pane = S.map.getPane("ws-" + id);
        if (pane) { pane.style.opacity = String(value); }
    }

    function visibleIds() {
        return S.order.filter(function (id) { return S.layers[id].on; });
    }

    /* Redraw every shown layer (after the basemap's datum changed). */
    function redraw() {
        visibleIds().forEach(function (id) { setVisible(id, true); });
    }

    function zoomTo(meta) {
        var url = meta.kind === "raster" ? meta.links.metadata : withParam(meta.links.collection, "f", "json");
        getJSON(url).then(function (doc) {
            // an empty layer or one without geometry has no spatial extent: nothing to zoom to
            var spatial = doc.extent && doc.extent.spatial;
            if (meta.kind !== "raster" && !spatial) { return; }
            var b = meta.kind === "raster" ? doc.info.bounds_wgs84 : spatial.bbox[0];
            S.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {padding: [20, 20]});
        });
    }

    function identify(meta, p, latlng) {
        var fields = meta.fields || {}, rows = "";
        var keys = ["name"].concat(Object.keys(fields).filter(function (k) { return k !== "name"; }));
        Object.keys(p).forEach(function (k) { if (keys.indexOf(k) < 0) { keys.push(k); } });
        keys.forEach(function (k) {
            var v = p[k];
            if (v === undefined || v === null || v === "" || k === "geometry") { return; }
            if (typeof v === "number") {
                v = v.toLocaleString(S.lang === "zh" ? "zh-CN" : "en", {maximumFractionDigits: 2});
            } else if (typeof v === "object") {
                v = JSON.stringify(v);
            }
            rows += "<tr><th>" + esc(fieldLabel(fields[k], k)) + "</th><td>" + esc(v) + "</td></tr>";
        });
        var code = p.code != null ? String(p.code) : "";
        var html = '<div class="ws-identify"><h4>' + esc(p.name || code || named(meta)) + "</h4>" +
            '<div class="ws-identify-layer">' + esc(named(meta)) + "</div>" +
            (rows ? "<table>" + rows + "</table>" : esc(t("no_attributes"))) +
            (CODE.test(code) ? '<br><a class="ws-factsheet" href="' + esc(S.root) + "/places/" +
                esc(code) + '?f=html">' + esc(t("fact_sheet")) + " →</a>" : "") + "</div>";
        L.popup({maxWidth: 380, className: "ws-identify-popup"}).setLatLng(latlng)
            .setContent(html).openOn(S.map);
    }

    function catalogue(map, o) {
        S.drawing = o.drawing || {};
        S.styles = o.styles || {};
        getJSON(o.url).then(function (doc) {
            S.catalogue = doc;
            doc.layers.forEach(function (meta) {
                S.order.push(meta.id);
                S.layers[meta.id] = {meta: meta, on: false, opacity: 1, leaflet: null,
                                     expanded: false, generation: 0, box: null};
            });
            renderCatalogue();
            (o.visible || []).forEach(function (id) { setVisible(id, true); });
            rasterSwatches();
        }).catch(function () {
            document.getElementById("ws-catalogue").innerHTML =
                '<div class="ws-hint" data-i18n="catalogue_failed">' + esc(t("catalogue_failed")) + "</div>";
        });
        onLang(function () { renderCatalogue(); rasterSwatches(); });
    }

    /* Raster swatches: the colour ramp of the layer's own legend (GET …/legend.json). */
    function rasterSwatches() {
        S.order.forEach(function (id) {
            var meta = S.layers[id].meta;
            if (meta.kind !== "raster" || !meta.links.legend) { return; }
            var apply = function (stops) {
                var node = document.querySelector('[data-legend="' + id + '"]');
                if (node && stops.length) {
                    node.style.background = "linear-gradient(90deg, " + stops.map(function (s) {
                        return s.color; }).join(", ") + ")";
                }
            };
            if (S.layers[id].stops) { apply(S.layers[id].stops); return; }
            getJSON(meta.links.legend).then(function (doc) {
                S.layers[id].stops = doc.stops || [];
                apply(S.layers[id].stops);
            }).catch(function () { /* keep the generic ramp */ });
        });
    }

    /* ---- basemaps and place names ------------------------------------------------- */

    var OFFLINE = {id: "none", kind: "none"};

    function basemaps(map, o) {
        S.placeNamesUrl = o.place_names;
        S.basemapList = [OFFLINE];
        S.basemap = OFFLINE;
        renderBasemaps();
        onLang(renderBasemaps);
        var names = document.getElementById("ws-place-names");
        names.addEventListener("change", function () { showPlaceNames(names.checked); });
        getJSON(o.config).then(function (config) {
            S.config = config;
            var list = (config.basemaps || []).filter(function (b) { return b.kind !== "none"; });
            var offline = (config.basemaps || []).filter(function (b) { return b.kind === "none"; })[0];
            if (offline) { Object.assign(OFFLINE, offline); }
            S.basemapList = [OFFLINE].concat(list);
            names.disabled = false;
            renderBasemaps();
            S.listeners.forEach(function (fn) { if (fn.onConfig) { fn(); } });
        }).catch(function () {
            S.config = null;
            renderBasemaps();
        });
    }

    function renderBasemaps() {
        var box = document.getElementById("ws-basemaps");
        box.innerHTML = "";
        S.basemapList.forEach(function (b) {
            var label = el("label", {"data-basemap": b.id});
            var radio = el("input", {type: "radio", name: "ws-basemap", value: b.id});
            radio.checked = S.basemap === b;
            radio.addEventListener("change", function () { if (radio.checked) { chooseBasemap(b); } });
            label.appendChild(radio);
            var name = b === OFFLINE && !b.name_zh ? t("basemap_none") : named(b);
            label.appendChild(el("span", {}, " " + esc(name)));
            // the badge only where the name does not already say it needs the internet
            if (b.online && !/需联网|internet/i.test(name)) {
                label.appendChild(el("span", {className: "ws-online"}, esc(t("basemap_online"))));
            }
            box.appendChild(label);
        });
        document.getElementById("ws-basemap-note").textContent = S.config === null ?
            t("basemap_offline_only") : (S.placeNamesFailed ? t("place_names_unavailable") : "");
    }

    function chooseBasemap(b) {
        (S.baseLayers || []).forEach(function (layer) { S.map.removeLayer(layer); });
        S.baseLayers = [];
        S.basemap = b;
        if (b.kind === "xyz" || b.kind === "wmts") {
            var options = {maxZoom: b.max_zoom || 18, attribution: esc(b.attribution || ""),
                           subdomains: b.subdomains || "abc"};
            S.baseLayers.push(L.tileLayer(b.url, options).addTo(S.map));
            if (b.overlay_url) {
                S.baseLayers.push(L.tileLayer(b.overlay_url, Object.assign({}, options,
                    {attribution: ""})).addTo(S.map));
            }
        }
        var gcj = b.crs === GCJ;
        if (gcj !== S.gcj) {
            S.gcj = gcj;
            crsStatus();
            redraw();
            if (S.placeNames) { showPlaceNames(true); }
            S.listeners.forEach(function (fn) { if (fn.onDatum) { fn(); } });
        }
    }

    function showPlaceNames(on) {
        if (S.placeNames) { S.map.removeLayer(S.placeNames); S.placeNames = null; }
        if (!on) { return; }
        S.placeNamesFailed = false;
        if (!S.map.getPane("ws-labels")) { S.map.createPane("ws-labels").style.zIndex = "590"; }
        var url = withParam(S.placeNamesUrl, "crs", S.gcj ? GCJ : "WGS84");
        getJSON(url).then(function (fc) {
            if (!document.getElementById("ws-place-names").checked) { return; }
            S.placeNames = L.geoJSON(fc, {
                pointToLayer: function (f, latlng) {
                    var p = f.properties || {};
                    return L.marker(latlng, {pane: "ws-labels", interactive: false, keyboard: false,
                        icon: L.divIcon({className: "ws-label ws-label-" + esc(p.level || ""),
                                         html: esc(p.name), iconSize: null})});
                }
            }).addTo(S.map);
        }).catch(function () {
            document.getElementById("ws-place-names").checked = false;
            S.placeNamesFailed = true;
            renderBasemaps();
        });
    }

    /* ---- place search ------------------------------------------------------------- */

    function search(map, o) {
        var input = document.getElementById("ws-search-input");
        var list = document.getElementById("ws-search-results");
        var timer = null, last = [], marker = null, chosen = null;

        function show(html) { list.innerHTML = html; list.hidden = !html; }

        /* Positions come in the frame asked for: WGS84, or GCJ-02 over a 高德 basemap. */
        function url(q) { return withParam(withParam(o.url, "q", q), "crs", S.gcj ? GCJ : "WGS84"); }

        function mark(r) {
            if (marker) { map.removeLayer(marker); marker = null; }
            var pos = position(r);
            if (pos) {
                marker = L.circleMarker(pos, {radius: 10, color: "#d7301f", weight: 2, fill: false,
                                              className: "ws-search-marker"}).addTo(map);
                marker.bindPopup(card(r), {className: "ws-search-popup", offset: [0, -6]});
            }
            return pos;
        }

        function go(r) {
            chosen = r;
            if (r.bbox && r.bbox.length === 4) {
                map.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]], {padding: [30, 30]});
            }
            var pos = mark(r);
            if (pos && !r.bbox) { map.setView(pos, Math.max(map.getZoom(), 13)); }
            if (marker) { marker.openPopup(); }
            list.hidden = true;
        }

        function sheetOf(r) {
            return r.fact_sheet || (CODE.test(String(r.code)) ? S.root + "/places/" + r.code : "");
        }

        /* The chosen place on the map: name, level, where it is shown, its fact sheet. */
        function card(r) {
            var sheet = sheetOf(r);
            return '<div class="ws-search-card"><b>' + esc(r.name) + '</b> <span class="ws-level">' +
                esc(S.lang === "en" ? r.level : (r.level_zh || r.level)) + "</span>" +
                '<div class="ws-hint">' + esc(S.lang === "en" ? r.position_note_en : r.position_note_zh) +
                "</div>" + (sheet ? '<a class="ws-factsheet" href="' + esc(sheet) + '">' +
                esc(t("fact_sheet")) + " →</a>" : "") + "</div>";
        }

        function item(r, i) {
            var parents = (r.parents || []).map(function (p) {
                return typeof p === "string" ? p : p.name; }).join(" · ");
            var note = r.has_position === false ?
                '<div class="ws-nopos">' + esc(t("no_position")) + "：" +
                esc(S.lang === "en" ? r.position_note_en : r.position_note_zh) + "</div>" : "";
            var sheet = sheetOf(r);
            return '<div class="ws-result" tabindex="0" data-index="' + i + '"><b>' + esc(r.name) +
                '</b><span class="ws-level">' + esc(S.lang === "en" ? r.level : (r.level_zh || r.level)) +
                "</span>" + (parents ? '<div class="ws-parents">' + esc(parents) + "</div>" : "") + note +
                (sheet ? '<a href="' + esc(sheet) + '">' + esc(t("fact_sheet")) + " →</a>" : "") + "</div>";
        }

        function run() {
            var q = input.value.trim();
            if (!q) { show(""); return; }
            getJSON(url(q)).then(function (doc) {
                if (input.value.trim() !== q) { return; }
                last = doc.results || [];
                show(last.length ? last.map(item).join("") :
                     '<div class="ws-hint">' + esc(t("search_none")) + "</div>");
            }).catch(function () {
                show('<div class="ws-hint">' + esc(t("search_unavailable")) + "</div>");
            });
        }

        input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 250); });
        input.addEventListener("keydown", function (e) {
            if (e.key === "Enter") { clearTimeout(timer); if (last.length) { go(last[0]); } else { run(); } }
        });
        list.addEventListener("click", function (e) {
            if (e.target.closest("a")) { return; }
            var node = e.target.closest(".ws-result");
            if (node) { go(last[+node.getAttribute("data-index")]); }
        });
        document.addEventListener("click", function (e) {
            if (!e.target.closest(".ws-search")) { list.hidden = true; }
        });
        input.addEventListener("focus", function () { if (list.innerHTML) { list.hidden = false; } });
        onLang(function () { if (!list.hidden && last.length) { show(last.map(item).join("")); } });
        // the basemap's datum changed: ask again in the new frame and move the marker
        var onDatum = function () {
            var q = input.value.trim();
            if (q) { run(); }
            if (!chosen) { return; }
            var code = chosen.code;
            getJSON(withParam(url(code), "limit", "1")).then(function (doc) {
                var again = (doc.results || []).filter(function (r) { return r.code === code; })[0];
                if (again && chosen && chosen.code === code) { chosen = again; mark(again); }
            }).catch(function () { if (marker) { map.removeLayer(marker); marker = null; } });
        };
        onDatum.onDatum = true;
        S.listeners.push(onDatum);
    }

    /* [lat, lng] of a search result's position ([lon, lat] array or {lon, lat}). */
    function position(r) {
        var p = r.position;
        if (!p || r.has_position === false) { return null; }
        if (Array.isArray(p)) { return [p[1], p[0]]; }
        if (p.coordinates) { return [p.coordinates[1], p.coordinates[0]]; }
        return [p.lat, p.lon];
    }

    /* ---- download dialog ---------------------------------------------------------- */

    function choices(kind) {
        return (S.config && S.config[kind] && S.config[kind].length) ? S.config[kind] : (S.choices[kind] || []);
    }

    function closeDialogs() {
        document.getElementById("ws-dialog").hidden = true;
        document.getElementById("ws-print").hidden = true;
    }

    function options(list, selected) {
        return list.map(function (c) {
            return '<option value="' + esc(c.id || c.code) + '"' +
                ((c.id || c.code) === selected ? " selected" : "") + ">" + esc(named(c)) + "</option>";
        }).join("");
    }

    function openDownload(meta) {
        var modal = document.getElementById("ws-dialog"), box = modal.firstElementChild;
        var counties = choices("counties");
        box.innerHTML = '<h3>' + esc(t("download_title")) + "：" + esc(named(meta)) + "</h3>" +
            '<div class="ws-form">' +
            "<span>" + esc(t("format")) + '</span><select name="format">' + options(choices("formats")) + "</select>" +
            "<span>" + esc(t("crs")) + '</span><select name="crs">' + options(choices("crs_choices")) + "</select>" +
            "<span>" + esc(t("encoding")) + '</span><select name="encoding" title="' + esc(t("encoding_only")) + '">' +
            options(choices("encodings")) + "</select>" +
            "<span>" + esc(t("extent")) + '</span><div class="ws-extent">' +
            '<label><input type="radio" name="extent" value="all" checked> ' + esc(t("extent_all")) + "</label>" +
            '<label><input type="radio" name="extent" value="view"> ' + esc(t("extent_view")) + "</label>" +
            '<label><input type="radio" name="extent" value="county"' + (counties.length ? "" : " disabled") +
            "> " + esc(t("extent_county")) + "</label></div>" +
            "<span>" + esc(t("county")) + '</span><select name="county"' + (counties.length ? "" : " disabled") + ">" +
            counties.map(function (c) { return '<option value="' + esc(c.code) + '">' + esc(c.name) + "</option>"; }).join("") +
            "</select></div>" +
            '<div class="ws-actions"><button type="button" class="ws-close">' + esc(t("close")) + "</button>" +
            '<a class="ws-link-button ws-download-link" href="#">' + esc(t("download_file")) + "</a></div>";
        var form = function (name) { return box.querySelector('[name="' + name + '"]'); };
        var link = box.querySelector(".ws-download-link");
        var update = function () {
            var format = form("format").value, extent = box.querySelector('[name="extent"]:checked').value;
            var encoded = S.encodedFormats.indexOf(format) >= 0;
            form("encoding").disabled = !encoded;
            form("county").disabled = extent !== "county";
            var url = withParam(meta.links.download, "format", format);
            url = withParam(url, "crs", form("crs").value);
            if (encoded) { url = withParam(url, "encoding", form("encoding").value); }
            if (extent === "view") {
                url = withParam(url, "bbox", viewBbox());
                if (S.gcj) { url = withParam(url, "bbox-crs", GCJ); }
            } else if (extent === "county" && form("county").value) {
                url = withParam(url, "county", form("county").value);
            }
            link.href = url;
        };
        box.querySelectorAll("select, input").forEach(function (n) { n.addEventListener("change", update); });
        box.querySelector(".ws-close").addEventListener("click", closeDialogs);
        update();
        modal.hidden = false;
    }

    function downloads(map, o) {
        S.choices = o.choices || {};
        S.encodedFormats = o.encoded_formats || [];
        document.getElementById("ws-dialog").addEventListener("click", function (e) {
            if (e.target.id === "ws-dialog") { closeDialogs(); }
        });
    }

    /* ---- print / export ----------------------------------------------------------- */

    function printing(map, o) {
        var pop = document.getElementById("ws-print");
        var title = null;

        function href(format, paper) {
            var url = withParam(o.url, "layers", visibleIds().join(","));
            url = withParam(url, "bbox", viewBbox());
            if (S.gcj) { url = withParam(url, "bbox-crs", GCJ); }  // the server shifts it back
            url = withParam(url, "paper", paper);
            url = withParam(url, "format", format);
            url = withParam(url, "title", title === null ? t("print_default_title") : title);
            return withParam(url, "lang", S.lang);
        }

        function render() {
            var paper = (pop.querySelector('[name="paper"]') || {}).value || o.papers[0];
            var none = visibleIds().length === 0;
            pop.innerHTML = "<h3>" + esc(t("print_title")) + '</h3><div class="ws-form">' +
                "<span>" + esc(t("title")) + '</span><input type="text" name="title" value="' +
                esc(title === null ? t("print_default_title") : title) + '">' +
                "<span>" + esc(t("paper")) + '</span><select name="paper">' + o.papers.map(function (p) {
                    return '<option' + (p === paper ? " selected" : "") + ">" + esc(p) + "</option>"; }).join("") +
                "</select><span>" + esc(t("print_layers")) + "</span><span>" + (none ? esc(t("print_no_layers")) :
                    visibleIds().map(function (id) { return esc(named(S.layers[id].meta)); }).join("、")) +
                '</span></div><div class="ws-actions"><button type="button" class="ws-close">' + esc(t("close")) +
                "</button>" + o.formats.map(function (f) {
                    return '<a class="ws-link-button ws-print-link' + (none ? " ws-disabled" : "") +
                        '" data-format="' + f + '" href="' + esc(href(f, paper)) + '">' +
                        esc(t("export_" + f)) + "</a>"; }).join("") + "</div>";
            pop.querySelector(".ws-close").addEventListener("click", closeDialogs);
            pop.querySelector('[name="title"]').addEventListener("input", function (e) {
                title = e.target.value; links(); });
            pop.querySelector('[name="paper"]').addEventListener("change", links);
        }

        function links() {
            if (pop.hidden) { return; }
            var paper = pop.querySelector('[name="paper"]').value;
            pop.querySelectorAll(".ws-print-link").forEach(function (a) {
                a.href = href(a.getAttribute("data-format"), paper);
            });
        }

        document.getElementById("ws-print-button").addEventListener("click", function () {
            if (pop.hidden) { render(); pop.hidden = false; } else { pop.hidden = true; }
        });
        map.on("moveend", links);
        var onLayers = function () { if (!pop.hidden) { render(); } };
        onLayers.onLayers = true;
        S.listeners.push(onLayers);
        onLang(function () { if (!pop.hidden) { render(); } });
    }

    global.Workspace = {
        start: start, catalogue: catalogue, basemaps: basemaps, search: search,
        downloads: downloads, printing: printing,
        // for tests and other pages
        t: t, setLang: setLang, state: S, fieldLabel: fieldLabel,
        el: el  // the element builder the upload panel (uploads.js) uses too
    };
})(window);
