/* 我的数据 in the 一张图 workspace (element maps/elements/upload_panel.py, issue 13).
 *
 * A planner's own files: pick or drop them → POST /uploads?dry_run=true → a report in their
 * words (layers, 要素, 面积, 编码 and how it was decided, 坐标系 and how, repairs, inside
 * Huzhou) with a CRS override → 保存. The owner's access key (issued with the first saved
 * upload, or imported) lives in localStorage and travels only as `Authorization: Bearer`:
 * tiles through VectorGrid's fetchOptions, downloads and exports through fetch + Blob.
 * The list (GET /uploads) shows, styles, zooms, downloads and deletes; the drawer on the map
 * shows the overlay table, the compliance check, the axes editor and indicator tables.
 * Tools whose endpoints this server lacks (read once from /openapi.json) stay hidden, so the
 * page never asks for a missing URL. Saving public layers takes an API key, asked once and
 * kept in sessionStorage. Every server text is escaped (Atlas.esc); errors show the server's
 * message.zh / message.en.
 */
(function (global) {
    "use strict";

    var W = global.Workspace, esc = global.Atlas.esc;
    var KEY_STORE = "gongfu.uploads.key", API_KEY_STORE = "gongfu.apikey";
    var COLOURS = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#d6336c", "#8c6d31"];
    var TIER_COLOURS = {county_town: "#b2182b", central_town: "#ef8a62", key_village: "#2166ac",
                        village: "#67a9cf"};
    var U = {map: null, root: "", files: [], crs: "", uploads: [], layers: {}, records: {},
             paths: null, oldCrs: []};

    function t(key) { return W.t(key); }
    function zh() { return W.state.lang !== "en"; }
    function $(id) { return document.getElementById(id); }

    var el = W.el;  // workspace.js's element builder

    function button(key, className) {
        return el("button", {type: "button", className: "ws-small-button " + (className || ""),
                             "data-i18n": key}, esc(t(key)));
    }

    function num(v, digits) {
        return Number(v).toLocaleString(zh() ? "zh-CN" : "en",
                                        {maximumFractionDigits: digits == null ? 2 : digits});
    }

    function pct(share) { return share == null ? "" : num(share * 100, 1) + "%"; }

    /* ---- keys ------------------------------------------------------------------- */

    function accessKey() {
        try { return global.localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
    }

    function setAccessKey(value) {
        try {
            if (value) { global.localStorage.setItem(KEY_STORE, value); }
            else { global.localStorage.removeItem(KEY_STORE); }
        } catch (e) { /* private mode: kept for this page only */ }
        U.keyProblem = false;
    }

    function apiKey(ask) {
        var value = "";
        try { value = global.sessionStorage.getItem(API_KEY_STORE) || ""; } catch (e) { /* none */ }
        if (!value && ask) {
            value = (global.prompt(t("up_api_key_prompt")) || "").trim();
            if (value) {
                try { global.sessionStorage.setItem(API_KEY_STORE, value); } catch (e) { /* none */ }
            }
        }
        return value;
    }

    function dropApiKey() {
        try { global.sessionStorage.removeItem(API_KEY_STORE); } catch (e) { /* none */ }
    }

    /* ---- requests --------------------------------------------------------------- */

    function url(path) { return U.root + path; }

    /* fetch with the key in the header; resolves the Response, rejects with the server's
       bilingual error ({status, message: {zh, en}, detail}). */
    function call(method, path, o) {
        o = o || {};
        var headers = {Accept: o.accept || "application/json"};
        var token = o.token === undefined ? accessKey() : o.token;
        if (token) { headers.Authorization = "Bearer " + token; }
        return fetch(url(path), {method: method, headers: headers, body: o.body})
            .catch(function () {
                throw {status: 0, message: {zh: t("up_network_error"), en: t("up_network_error")}};
            })
            .then(function (r) {
                if (r.ok) { return r; }
                return r.json().catch(function () { return {}; }).then(function (body) {
                    body = body || {};
                    throw {status: r.status, code: body.code, detail: body.detail,
                           message: body.message || {zh: t("up_error") + "（" + r.status + "）",
                                                     en: t("up_error") + " (" + r.status + ")"}};
                });
            });
    }

    function json(method, path, o) {
        return call(method, path, o).then(function (r) {
            return r.status === 204 ? null : r.json();
        });
    }

    function errorText(err) {
        var m = (err && err.message) || {};
        return (zh() ? m.zh : m.en) || m.zh || m.en || t("up_error");
    }

    function errorHtml(err) {
        return '<div class="up-error" role="alert">' + esc(errorText(err)) + "</div>";
    }

    /* Which optional endpoints this server has, from its OpenAPI document (one request,
       always 200), so no part of the page ever asks for a URL that is not there. */
    function endpoints() {
        if (!U.paths) {
            U.paths = fetch(url("/openapi.json")).then(function (r) {
                return r.ok ? r.json() : {paths: {}};
            }).then(function (doc) {
                var found = {};
                Object.keys(doc.paths || {}).forEach(function (p) {
                    found[p.replace(/\{[^}]*\}/g, "{}")] = true;
                });
                return found;
            }).catch(function () { return {}; });
        }
        return U.paths;
    }

    /* Save a Response as a file (the key stays in the header, never in a link). */
    function saveResponse(response, fallback) {
        var cd = response.headers.get("Content-Disposition") || "", name = fallback;
        var star = /filename\*=UTF-8''([^;]+)/i.exec(cd), plain = /filename="?([^";]+)"?/i.exec(cd);
        if (star) { name = decodeURIComponent(star[1]); } else if (plain) { name = plain[1]; }
        return response.blob().then(function (blob) {
            var a = el("a", {href: URL.createObjectURL(blob), download: name});
            a.className = "up-save-link";
            document.body.appendChild(a);
            a.click();
            setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
            return name;
        });
    }

    /* ---- the drawer (right side of the map) ------------------------------------- */

    function openDrawer(kind, title) {
        U.drawer = kind;
        $("up-drawer").setAttribute("data-kind", kind);
        $("up-drawer-title").textContent = title;
        $("up-drawer").hidden = false;
        return $("up-drawer-body");
    }

    // Export buttons under a drawer's table, then 关闭: each fetches its file with the key in
    // the header (never in a URL) and saves it. buttons: [[format, label]…]; urlOf(format).
    function exportBar(body, buttons, urlOf, prefix) {
        body.insertAdjacentHTML("beforeend", '<div class="up-dl-status"></div><div class="ws-actions">' +
            buttons.map(function (b) {
                return '<button type="button" class="ws-small-button up-export" data-format="' + b[0] + '">' +
                    esc(b[1]) + "</button>"; }).join("") +
            '<button type="button" class="ws-close up-cancel">' + esc(t("up_close")) + "</button></div>");
        body.querySelector(".up-cancel").addEventListener("click", closeDrawer);
        body.querySelectorAll(".up-export").forEach(function (b) {
            b.addEventListener("click", function () {
                var f = b.getAttribute("data-format"), status = body.querySelector(".up-dl-status");
                call("GET", urlOf(f), {accept: "*/*"})
                    .then(function (r) { return saveResponse(r, prefix + f); })
                    .then(function (name) { status.innerHTML = '<div class="up-done">✓ ' + esc(name) + "</div>"; })
                    .catch(function (err) { status.innerHTML = errorHtml(err); });
            });
        });
    }

    function closeDrawer() {
        $("up-drawer").hidden = true;
        U.drawer = null;
        clearTemp();
    }

    function clearTemp() {
        if (U.temp) { U.map.removeLayer(U.temp); U.temp = null; }
    }

    /* ---- upload: check, then save ---------------------------------------------- */

    function crsChoices() {
        var config = W.state.config, listed = (config && config.crs_choices) || [];
        var ids = listed.map(function (c) { return c.id; });
        var old = U.oldCrs.filter(function (c) { return ids.indexOf(c.id) < 0; })
            .map(function (c) { return Object.assign({old: true}, c); });
        return listed.filter(function (c) { return c.id !== "EPSG:3857"; }).concat(old);
    }

    function crsName(key) {
        var c = crsChoices().filter(function (c) { return c.id === key; })[0];
        if (!c) { return key; }
        return (zh() ? c.name_zh : (c.name_en || c.name_zh)) + " (" + key + ")";
    }

    function formData(files) {
        var body = new FormData();
        files.forEach(function (f) { body.append("file", f, f.name); });
        return body;
    }

    function uploadPath(dryRun) {
        var q = [];
        if (dryRun) { q.push("dry_run=true"); }
        if (U.crs) { q.push("crs=" + encodeURIComponent(U.crs)); }
        return "/uploads" + (q.length ? "?" + q.join("&") : "");
    }

    function check(files) {
        if (!files || !files.length) { return; }
        U.files = Array.prototype.slice.call(files);
        U.report = null;
        var body = openDrawer("report", t("up_report"));
        body.innerHTML = '<div class="ws-hint up-busy">' + esc(t("up_checking")) + "</div>";
        json("POST", uploadPath(true), {body: formData(U.files)}).then(function (doc) {
            U.report = doc.report;
            renderReport();
        }).catch(function (err) {
            body.innerHTML = errorHtml(err) + crsPicker() + actions(false);
            wireReport();
        });
    }

    function geometryWord(type) {
        if (/Polygon/.test(type)) { return t("up_geom_polygon"); }
        if (/Line/.test(type)) { return t("up_geom_line"); }
        return /Point/.test(type) ? t("up_geom_point") : type;
    }

    function repairs(fixes) {
        var done = ["made_valid", "z_dropped", "null_dropped", "empty_dropped", "collection_dropped"]
            .filter(function (k) { return fixes && fixes[k]; })
            .map(function (k) { return esc(t("up_" + k)) + " " + num(fixes[k], 0); });
        return done.length ? done.join("；") : esc(t("up_repairs_none"));
    }

    function bilingualText(o) { return o ? (zh() ? o.zh : (o.en || o.zh)) : ""; }

    /* How the encoding was decided (.cpg, DBF byte, strict UTF-8, GB18030…) in words. */
    function encodingHow(source) {
        var words = t("up_enc_" + source);
        return words === "up_enc_" + source ? source : words;
    }

    function layerFacts(layer) {
        var enc = layer.encoding || {}, crs = layer.crs || {}, m = layer.measures || {};
        var rows = [
            ["up_count", esc(num(layer.feature_count, 0)) + " " + esc(t("features")) + "（" +
                esc(geometryWord(layer.geometry_type)) + "）"],
            m.area_km2 != null ? ["up_area", esc(num(m.area_km2, 4)) + " " + esc(t("up_km2")) +
                " · " + esc(num(m.area_mu, 1)) + " " + esc(t("up_mu"))] : null,
            ["up_encoding", esc(enc.codec === "gb18030" ? "GB18030 / GBK" : String(enc.codec || "").toUpperCase()) +
                '<div class="up-how">' + esc(encodingHow(enc.source)) + (enc.note ? "；" + esc(enc.note) : "") + "</div>"],
            ["crs", esc(crsName(crs.key)) + ' <span class="up-tag up-how-' + esc(crs.how) + '">' +
                esc(t("up_how_" + crs.how)) + "</span>" +
                (bilingualText(crs.reason) ? '<div class="up-how">' + esc(bilingualText(crs.reason)) + "</div>" : "")],
            ["up_repairs", repairs(layer.fixes)],
            ["up_inside", esc(t("up_inside_" + ((layer.inside_huzhou || {}).verdict || "outside")))]
        ].filter(Boolean);
        var warnings = (layer.warnings || []).map(function (w) {
            return "<li>" + esc(bilingualText(w)) + "</li>"; }).join("");
        return '<div class="up-layer-report"><h4>' + esc(t("up_layer")) + "：" + esc(layer.name) + "</h4>" +
            '<table class="up-facts">' + rows.map(function (r) {
                return "<tr><th>" + esc(t(r[0])) + "</th><td>" + r[1] + "</td></tr>"; }).join("") +
            "</table>" + (warnings ? '<ul class="up-warnings">' + warnings + "</ul>" : "") + "</div>";
    }

    function crsPicker() {
        return '<label class="up-crs-row"><span>' + esc(t("up_crs")) + '</span><select class="up-crs">' +
            '<option value="">' + esc(t("up_crs_auto")) + "</option>" +
            crsChoices().map(function (c) {
                return '<option value="' + esc(c.id) + '"' + (c.id === U.crs ? " selected" : "") + ">" +
                    esc(zh() ? c.name_zh : (c.name_en || c.name_zh)) +
                    (c.old ? esc(t("up_crs_old")) : "") + "</option>";
            }).join("") + "</select></label>" +
            '<button type="button" class="ws-small-button up-recheck" hidden>' + esc(t("up_recheck")) + "</button>";
    }

    function actions(canSave) {
        return '<div class="ws-actions"><button type="button" class="ws-close up-cancel">' + esc(t("up_cancel")) +
            "</button>" + (canSave ? '<button type="button" class="up-primary up-save">' + esc(t("up_save")) +
            "</button>" : "") + "</div>";
    }

    function renderReport() {
        var r = U.report, body = $("up-drawer-body");
        var verdict = r.inside_huzhou || "outside";
        var first = (bilingualText(r.summary) || "").split("\n")[0];
        body.innerHTML = '<div class="up-summary">' + esc(first) + "</div>" +
            '<div class="up-verdict up-verdict-' + esc(verdict) + '">' + esc(t("up_inside_" + verdict)) + "</div>" +
            r.layers.map(layerFacts).join("") +
            ((r.ignored_files || []).length ? '<div class="ws-hint">' + esc(t("up_ignored")) + "：" +
                r.ignored_files.map(function (f) { return esc(f.name || f.file || f); }).join("、") + "</div>" : "") +
            crsPicker() + '<div class="ws-hint">' + esc(t("up_report_hint")) + "</div>" + actions(true);
        wireReport();
    }

    function wireReport() {
        var body = $("up-drawer-body"), select = body.querySelector(".up-crs");
        var recheck = body.querySelector(".up-recheck");
        select.addEventListener("change", function () { recheck.hidden = select.value === U.crs; });
        recheck.addEventListener("click", function () { U.crs = select.value; check(U.files); });
        body.querySelector(".up-cancel").addEventListener("click", closeDrawer);
        var save = body.querySelector(".up-save");
        if (save) { save.addEventListener("click", saveUpload); }
    }

    function saveUpload() {
        var body = $("up-drawer-body");
        body.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        body.insertAdjacentHTML("beforeend", '<div class="ws-hint up-busy">' + esc(t("up_saving")) + "</div>");
        json("POST", uploadPath(false), {body: formData(U.files)}).then(function (doc) {
            var fresh = !!doc.token;
            if (doc.token) { setAccessKey(doc.token); }
            U.records[doc.id] = doc;
            U.files = [];
            $("up-file").value = "";
            body.innerHTML = '<div class="up-done">✓ ' + esc(t("up_saved")) + "：" + esc(doc.report.filename) + "</div>" +
                (fresh ? '<div class="up-key-new">' + esc(t("up_key_new")) + '<div class="up-key-line"><code>' +
                    esc(doc.token) + '</code></div><button type="button" class="ws-small-button up-copy-new">' +
                    esc(t("up_key_copy")) + "</button></div>" : "") +
                '<div class="ws-actions"><button type="button" class="ws-close up-cancel">' + esc(t("up_close")) + "</button></div>";
            body.querySelector(".up-cancel").addEventListener("click", closeDrawer);
            var copy = body.querySelector(".up-copy-new");
            if (copy) { copy.addEventListener("click", function () { copyKey(copy); }); }
            renderKey();
            return refresh().then(function () { show(doc.id, true, true); });
        }).catch(function (err) {
            body.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
            var busy = body.querySelector(".up-busy");
            if (busy) { busy.remove(); }
            body.insertAdjacentHTML("afterbegin", errorHtml(err));
        });
    }

    /* ---- the access key line ------------------------------------------------------ */

    function copyKey(node) {
        var value = accessKey(), done = function () {
            node.textContent = t("up_key_copied");
            setTimeout(function () { node.textContent = t("up_key_copy"); }, 1500);
        };
        if (global.navigator.clipboard && global.isSecureContext) {
            global.navigator.clipboard.writeText(value).then(done, function () { showKeyText(); });
        } else {
            showKeyText(true);
            done();
        }
    }

    /* The key as selected text (copy by hand where the clipboard API is not allowed). */
    function showKeyText(select) {
        var box = $("up-key").querySelector(".up-key-text");
        box.hidden = false;
        box.value = accessKey();
        if (select) { box.select(); try { document.execCommand("copy"); } catch (e) { /* by hand */ } }
    }

    function renderKey() {
        var box = $("up-key"), key = accessKey();
        box.innerHTML = "";
        var line = el("div", {className: "up-key-row"});
        line.appendChild(el("span", {className: "up-key-label"}, esc(t("up_key")) + "："));
        if (key) {
            line.appendChild(el("span", {className: "up-key-state" + (U.keyProblem ? " up-bad" : "")},
                esc(U.keyProblem ? t("up_key_invalid") : t("up_key_saved")) +
                " <code>…" + esc(key.slice(-4)) + "</code>"));
        } else {
            line.appendChild(el("span", {className: "up-key-state"}, esc(t("up_key_none"))));
        }
        box.appendChild(line);
        var buttons = el("div", {className: "up-key-buttons"});
        if (key) {
            var copy = button("up_key_copy", "up-key-copy");
            copy.addEventListener("click", function () { copyKey(copy); });
            buttons.appendChild(copy);
        }
        var imp = button("up_key_import", "up-key-import");
        imp.addEventListener("click", function () {
            var value = (global.prompt(t("up_key_import_prompt")) || "").trim();
            if (!value) { return; }
            setAccessKey(value);
            hideAll();
            renderKey();
            refresh();
        });
        buttons.appendChild(imp);
        if (key) {
            var forget = button("up_key_forget", "up-key-forget");
            forget.addEventListener("click", function () {
                if (!global.confirm(t("up_key_forget_confirm"))) { return; }
                setAccessKey("");
                hideAll();
                U.uploads = [];
                renderKey();
                renderList();
                closeDrawer();
            });
            buttons.appendChild(forget);
        }
        box.appendChild(buttons);
        var text = el("input", {type: "text", className: "up-key-text", readonly: "readonly",
                                "aria-label": t("up_key")});
        text.hidden = true;
        box.appendChild(text);
    }

    /* ---- 我的数据 list ------------------------------------------------------------ */

    function refresh() {
        if (!accessKey()) { U.uploads = []; renderList(); return Promise.resolve(); }
        // the whole list in one page: an owner keeps at most 500 uploads, the API pages by 100
        return json("GET", "/uploads?limit=1000").then(function (doc) {
            U.keyProblem = false;
            U.uploads = doc.uploads || [];
            renderList();
            renderKey();
        }).catch(function (err) {
            if (err.status === 401) { U.keyProblem = true; U.uploads = []; renderKey(); renderList(); return; }
            $("up-list").innerHTML = errorHtml(err);
        });
    }

    function nameOf(u) { return u.filename || u.id; }

    function renderList() {
        var list = $("up-list");
        list.innerHTML = "";
        if (!U.uploads.length) {
            list.appendChild(el("div", {className: "ws-hint up-empty"},
                esc(t(accessKey() ? "up_list_empty" : "up_list_nokey"))));
            return;
        }
        U.uploads.forEach(function (u, i) { list.appendChild(item(u, i)); });
        endpoints().then(function (found) {
            var compliance = found["/constraints"] && found["/uploads/{}/compliance"];
            list.querySelectorAll(".up-compliance").forEach(function (b) { b.hidden = !compliance; });
        });
    }

    function item(u, i) {
        var state = U.layers[u.id] || (U.layers[u.id] = {on: false, colour: COLOURS[i % COLOURS.length],
                                                         opacity: 0.8, leaflet: null});
        var box = el("div", {className: "up-item", "data-upload": u.id});
        var row = el("label", {className: "up-row"});
        var toggle = el("input", {type: "checkbox", className: "up-toggle", "aria-label": t("up_show")});
        toggle.checked = state.on;
        toggle.addEventListener("change", function () { show(u.id, toggle.checked); });
        row.appendChild(toggle);
        var colour = el("input", {type: "color", className: "up-colour", value: state.colour,
                                  title: t("up_colour"), "aria-label": t("up_colour")});
        colour.addEventListener("input", function () { state.colour = colour.value; restyle(u.id); });
        row.appendChild(colour);
        var titles = (u.layers || []).map(function (l) { return l.title; }).join("、");
        row.appendChild(el("span", {className: "up-name", title: u.created || ""},
            esc(nameOf(u)) + (titles ? '<small>' + esc(titles) + "</small>" : "")));
        box.appendChild(row);
        var bar = el("div", {className: "up-bar"});
        var range = el("input", {type: "range", min: "0", max: "100", className: "up-opacity",
                                 title: t("opacity"), "aria-label": t("opacity")});
        range.value = String(Math.round(state.opacity * 100));
        range.addEventListener("input", function () { state.opacity = range.value / 100; restyle(u.id); });
        bar.appendChild(range);
        [["up_zoom", "up-zoom", function () { zoomTo(u.id); }],
         ["up_overlay", "up-overlay", function () { overlayOf(u); }],
         ["up_compliance", "up-compliance", function () { complianceOf(u); }],
         ["up_download", "up-download", function () { downloadOf(u); }],
         ["up_delete", "up-delete", function () { remove(u); }]].forEach(function (a) {
            var b = button(a[0], a[1]);
            if (a[1] === "up-compliance") { b.hidden = true; }
            b.addEventListener("click", a[2]);
            bar.appendChild(b);
        });
        box.appendChild(bar);
        return box;
    }

    function paneOf(id) {
        var name = "up-" + id;
        if (!U.map.getPane(name)) { U.map.createPane(name).style.zIndex = "480"; }
        return name;
    }

    function styleOf(id, geometry) {
        var s = U.layers[id];
        if (geometry === 1) {  // VectorGrid: 1 point
            return {radius: 5, color: "#fff", weight: 1.2, fill: true, fillColor: s.colour, fillOpacity: 1};
        }
        return {color: s.colour, weight: 2, fill: true, fillColor: s.colour, fillOpacity: 0.35};
    }

    function tileLayer(id) {
        var upload = U.uploads.filter(function (u) { return u.id === id; })[0] || {layers: []};
        var styles = {};
        upload.layers.forEach(function (l) {
            styles[l.id] = function (p, z, geometry) { return styleOf(id, geometry); };
        });
        var layer = L.vectorGrid.protobuf(url("/uploads/" + encodeURIComponent(id) + "/tiles/{z}/{x}/{y}.mvt"), {
            pane: paneOf(id), rendererFactory: L.svg.tile, interactive: true, maxNativeZoom: 18,
            vectorTileLayerStyles: styles,
            fetchOptions: {headers: {Authorization: "Bearer " + accessKey()}}
        });
        layer.on("click", function (e) {
            L.DomEvent.stop(e);
            identify(upload, e.layer.properties || {}, e.latlng);
        });
        return layer;
    }

    function identify(upload, p, latlng) {
        var rows = Object.keys(p).filter(function (k) { return k !== "fid" && p[k] !== null && p[k] !== ""; })
            .map(function (k) {
                return "<tr><th>" + esc(k) + "</th><td>" + esc(typeof p[k] === "object" ? JSON.stringify(p[k]) : p[k]) +
                    "</td></tr>"; }).join("");
        L.popup({maxWidth: 360, className: "ws-identify-popup"}).setLatLng(latlng).setContent(
            '<div class="ws-identify"><h4>' + esc(nameOf(upload)) + '</h4><div class="ws-identify-layer">' +
            esc(t("up_title")) + "</div>" + (rows ? "<table>" + rows + "</table>" : esc(t("no_attributes"))) +
            "</div>").openOn(U.map);
    }

    function restyle(id) {
        var state = U.layers[id], pane = U.map.getPane("up-" + id);
        if (pane) { pane.style.opacity = String(state.opacity); }
        if (state.leaflet) { state.leaflet.redraw(); }
    }

    function show(id, on, zoom) {
        var state = U.layers[id];
        if (!state) { return; }
        state.on = on;
        if (state.leaflet) { U.map.removeLayer(state.leaflet); state.leaflet = null; }
        if (on) {
            state.leaflet = tileLayer(id).addTo(U.map);
            restyle(id);
            if (zoom) { zoomTo(id); }
        }
        var box = document.querySelector('.up-item[data-upload="' + id + '"] .up-toggle');
        if (box) { box.checked = on; }
    }

    function hideAll() {
        Object.keys(U.layers).forEach(function (id) { if (U.layers[id].on) { show(id, false); } });
        U.layers = {};
        U.records = {};
    }

    function record(id) {
        if (U.records[id] && U.records[id].report) { return Promise.resolve(U.records[id]); }
        return json("GET", "/uploads/" + encodeURIComponent(id)).then(function (doc) {
            U.records[id] = doc;
            return doc;
        });
    }

    function boundsOf(report) {
        var b = null;
        (report.layers || []).forEach(function (l) {
            var x = l.bbox_wgs84;
            if (!x) { return; }
            var here = L.latLngBounds([x[1], x[0]], [x[3], x[2]]);
            b = b ? b.extend(here) : here;
        });
        return b;
    }

    /* fitBounds options that keep the features clear of the open drawer. */
    function framing(maxZoom) {
        var drawer = $("up-drawer"), right = drawer.hidden ? 40 : drawer.offsetWidth + 40;
        return {paddingTopLeft: [40, 40], paddingBottomRight: [right, 40], maxZoom: maxZoom};
    }

    function zoomTo(id) {
        record(id).then(function (doc) {
            var b = boundsOf(doc.report);
            if (b) { U.map.fitBounds(b, framing(14)); }
        }).catch(function () { /* the list shows the key problem */ });
    }

    function remove(u) {
        if (!global.confirm(t("up_delete_confirm").replace("{name}", nameOf(u)))) { return; }
        call("DELETE", "/uploads/" + encodeURIComponent(u.id)).then(function () {
            show(u.id, false);
            delete U.layers[u.id];
            delete U.records[u.id];
            if (U.drawerUpload === u.id) { closeDrawer(); }
            return refresh();
        }).catch(function (err) { $("up-status").innerHTML = errorHtml(err); });
    }

    /* ---- download (fetch + Blob: the key stays in the header) ---------------------- */

    function options(list, selected) {
        return list.map(function (c) {
            return '<option value="' + esc(c.id) + '"' + (c.id === selected ? " selected" : "") + ">" +
                esc(zh() ? c.name_zh : (c.name_en || c.name_zh)) + "</option>";
        }).join("");
    }

    var UPLOAD_FORMATS = ["shp", "gpkg", "geojson", "kml", "csv"];

    function downloadOf(u) {
        U.drawerUpload = u.id;
        var body = openDrawer("download", t("up_download_title") + "：" + nameOf(u));
        var config = W.state.config || {}, fallback = W.state.choices || {};
        var formats = (config.formats || fallback.formats || []).filter(function (f) {
            return UPLOAD_FORMATS.indexOf(f.id) >= 0; });
        var crs = (config.crs_choices || fallback.crs_choices || []);
        var encodings = (config.encodings || fallback.encodings || []);
        body.innerHTML = '<div class="ws-form">' +
            "<span>" + esc(t("up_layer")) + '</span><select name="layer">' + (u.layers || []).map(function (l) {
                return '<option value="' + esc(l.id) + '">' + esc(l.title) + "</option>"; }).join("") + "</select>" +
            "<span>" + esc(t("format")) + '</span><select name="format">' + options(formats, "shp") + "</select>" +
            "<span>" + esc(t("crs")) + '</span><select name="crs">' + options(crs, "EPSG:4490") + "</select>" +
            "<span>" + esc(t("encoding")) + '</span><select name="encoding">' + options(encodings, "gbk") + "</select>" +
            '</div><div class="up-dl-status"></div><div class="ws-actions"><button type="button" class="ws-close up-cancel">' +
            esc(t("up_close")) + '</button><button type="button" class="up-primary up-dl-go">' +
            esc(t("up_download_file")) + "</button></div>";
        var field = function (n) { return body.querySelector('[name="' + n + '"]'); };
        var encoded = function () { return ["shp", "csv"].indexOf(field("format").value) >= 0; };
        field("format").addEventListener("change", function () { field("encoding").disabled = !encoded(); });
        body.querySelector(".up-cancel").addEventListener("click", closeDrawer);
        body.querySelector(".up-dl-go").addEventListener("click", function () {
            var status = body.querySelector(".up-dl-status");
            var q = "format=" + encodeURIComponent(field("format").value) +
                "&crs=" + encodeURIComponent(field("crs").value) +
                (encoded() ? "&encoding=" + encodeURIComponent(field("encoding").value) : "");
            status.innerHTML = '<div class="ws-hint">' + esc(t("loading")) + "</div>";
            call("GET", "/uploads/" + encodeURIComponent(u.id) + "/layers/" +
                 encodeURIComponent(field("layer").value) + "/download?" + q, {accept: "*/*"})
                .then(function (r) { return saveResponse(r, field("layer").value); })
                .then(function (name) { status.innerHTML = '<div class="up-done">✓ ' + esc(name) + "</div>"; })
                .catch(function (err) { status.innerHTML = errorHtml(err); });
        });
    }

    /* ---- overlay ---------------------------------------------------------------- */

    function zoneLabel(key, doc) {
        var own = t("up_zone_" + key);
        if (own !== "up_zone_" + key) { return own; }
        var z = (doc.zone_layers || []).filter(function (l) { return l.id === key; })[0];
        return z ? z.title : key;
    }

    function zoneTable(key, rows, doc) {
        var illustrative = (doc.zone_layers || []).some(function (l) { return l.id === key && l.illustrative; });
        return '<table class="up-table" data-zone="' + esc(key) + '"><caption>' + esc(zoneLabel(key, doc)) +
            (illustrative ? ' <span class="ws-badge">' + esc(t("up_illustrative")) + "</span>" : "") +
            "</caption><thead><tr><th>" + esc(t("up_zone")) + "</th><th>" + esc(t("up_km2")) + "</th><th>" +
            esc(t("up_mu")) + "</th><th>" + esc(t("up_share")) + "</th></tr></thead><tbody>" +
            (rows.length ? rows.map(function (r) {
                return "<tr><td>" + esc(r.name || r.code || r.id) + "</td><td>" + esc(num(r.area_km2, 4)) +
                    "</td><td>" + esc(num(r.area_mu, 1)) + "</td><td>" + esc(pct(r.share_of_upload)) + "</td></tr>";
            }).join("") : '<tr><td colspan="4" class="ws-hint">' + esc(t("up_zone_none")) + "</td></tr>") +
            "</tbody></table>";
    }

    function featureRows(features) {
        var html = "";
        Object.keys(features || {}).forEach(function (key) {
            var part = features[key];
            if (!part.rows || !part.rows.length) { return; }
            html += '<details class="up-by-feature"><summary>' + esc(t("up_by_feature")) + " · " +
                esc(t("up_zone_" + key) === "up_zone_" + key ? key : t("up_zone_" + key)) +
                "（" + esc(num(part.number_matched, 0)) + "）</summary><table class=\"up-table\"><thead><tr><th>" +
                esc(t("up_feature")) + "</th><th>" + esc(t("up_zone")) + "</th><th>" + esc(t("up_km2")) +
                "</th><th>" + esc(t("up_mu")) + "</th></tr></thead><tbody>" + part.rows.map(function (r) {
                    return "<tr><td>" + esc(r.feature) + "</td><td>" + esc(r.name || r.code) + "</td><td>" +
                        esc(num(r.area_km2, 4)) + "</td><td>" + esc(num(r.area_mu, 1)) + "</td></tr>";
                }).join("") + "</tbody></table></details>";
        });
        return html;
    }

    function renderOverlay(doc) {
        return doc.layers.map(function (layer) {
            var zones = layer.zones || {};
            return '<div class="up-overlay-layer"><h4>' + esc(layer.title) +
                (layer.total ? ' <small>' + esc(t("up_total")) + " " + esc(num(layer.total.area_km2, 4)) + " " +
                    esc(t("up_km2")) + " · " + esc(num(layer.total.area_mu, 1)) + " " + esc(t("up_mu")) + "</small>" : "") +
                "</h4>" + Object.keys(zones).map(function (k) { return zoneTable(k, zones[k], doc); }).join("") +
                ((layer.rasters || []).length ? '<table class="up-table up-rasters"><caption>' + esc(t("up_rasters")) +
                    "</caption><tbody>" + layer.rasters.map(function (r) {
                        return "<tr><td>" + esc(r.title) + (r.illustrative ? ' <span class="ws-badge">' +
                            esc(t("up_illustrative")) + "</span>" : "") + "</td><td>" +
                            (r.available === false || r.total == null ? "—" : esc(num(r.total, 1)) + " " +
                                esc(r.total_unit || r.unit || "")) + "</td></tr>";
                    }).join("") + "</tbody></table>" : "") +
                featureRows(layer.features) + "</div>";
        }).join("");
    }

    /* Turn a catalogue layer on through the catalogue's own checkbox. */
    function catalogueOn(id) {
        var state = W.state.layers[id];
        if (!state || state.on || !state.box) { return; }
        var box = state.box.querySelector(".ws-toggle");
        box.checked = true;
        box.dispatchEvent(new Event("change"));
    }

    function overlayOf(u) {
        U.drawerUpload = u.id;
        var body = openDrawer("overlay", t("up_overlay_title") + "：" + nameOf(u));
        body.innerHTML = '<div class="ws-hint up-busy">' + esc(t("up_overlay_running")) + "</div>";
        var base = "/uploads/" + encodeURIComponent(u.id);
        show(u.id, true, true);
        catalogueOn("counties");
        Promise.all([json("GET", base + "/overlay?by_feature=1000"), endpoints()]).then(function (both) {
            var doc = both[0], found = both[1];
            if (U.drawerUpload !== u.id || U.drawer !== "overlay") { return; }
            var exports = ["xlsx", "csv"].filter(function (f) { return found["/uploads/{}/overlay." + f]; });
            body.innerHTML = renderOverlay(doc);
            exportBar(body, exports.map(function (f) { return [f, t("up_export_" + f)]; }),
                      function (f) { return base + "/overlay." + f + "?by_feature=100000"; }, "overlay.");
            if (doc.layers.some(function (l) { return l.zones && (l.zones.axis_domains || []).length; })) {
                catalogueOn("axis_domains");
            }
        }).catch(function (err) { body.innerHTML = errorHtml(err); });
    }

    /* ---- compliance check 合规性审查 (hidden while the server lacks the endpoints) --- */

    function areaCells(m2, mu, share) {
        return "<td>" + (m2 == null ? "—" : esc(num(m2, 1))) + "</td><td>" + (mu == null ? "—" : esc(num(mu, 2))) +
            "</td><td>" + esc(pct(share)) + "</td>";
    }

    function complianceTable(doc) {
        var head = "<thead><tr><th>" + esc(t("up_constraint")) + "</th><th>" + esc(t("up_m2")) + "</th><th>" +
            esc(t("up_mu")) + "</th><th>" + esc(t("up_share")) + "</th></tr></thead>";
        var rows = (doc.totals || []).map(function (c) {
            var parcels = (doc.parcels || []).filter(function (p) {
                return p.constraint === c.constraint && p.layer === c.layer;
            }).map(function (p) {
                return '<tr class="up-parcel" data-constraint="' + esc(p.constraint) + '"><td>· ' +
                    esc(p.label != null && p.label !== "" ? p.label : p.feature) + "</td>" +
                    areaCells(p.conflict_area_m2, p.conflict_area_mu, p.share_of_parcel) + "</tr>";
            }).join("");
            return '<tr class="up-total" data-constraint="' + esc(c.constraint) + '"><td><b>' +
                esc(c.constraint_title || c.constraint) + "</b>" +
                (c.kind && c.kind !== c.constraint_title ? " <small>" + esc(c.kind) + "</small>" : "") +
                '<div class="up-how">' + esc(t("up_parcels_in_conflict")) + " " + esc(num(c.parcels_in_conflict, 0)) +
                " / " + esc(num(c.parcel_count, 0)) + "</div></td>" +
                areaCells(c.conflict_area_m2, c.conflict_area_mu, c.share_of_layer) + "</tr>" + parcels;
        }).join("");
        var skipped = (doc.not_checked || []).map(function (n) {
            return "<li>" + esc(n.title || n.layer) + "：" + esc(bilingualText(n.reason)) + "</li>"; }).join("");
        return '<table class="up-table up-compliance-table">' + head + "<tbody>" + rows + "</tbody></table>" +
            '<div class="ws-hint">' + esc(t("up_share")) + "：" + esc(t("up_share_of_layer")) + " / " +
            esc(t("up_share_of_parcel")) + " · " + esc(doc.area_crs || "") + "</div>" +
            (skipped ? '<div class="up-warn">' + esc(t("up_not_checked")) + '</div><ul class="up-warnings">' +
                skipped + "</ul>" : "") +
            (doc.compliant ? '<div class="up-done up-compliant">✓ ' + esc(t("up_no_conflict")) + "</div>" : "");
    }

    function complianceOf(u) {
        U.drawerUpload = u.id;
        var body = openDrawer("compliance", t("up_compliance_title") + "：" + nameOf(u));
        body.innerHTML = '<div class="ws-hint up-busy">' + esc(t("loading")) + "</div>";
        var base = "/uploads/" + encodeURIComponent(u.id);
        show(u.id, true, true);
        json("GET", "/constraints?limit=1000").then(function (listed) {
            if (!(listed.constraints || []).length) {
                body.innerHTML = '<div class="ws-hint up-no-constraints">' + esc(t("up_no_constraints")) + "</div>" +
                    '<div class="ws-actions"><button type="button" class="ws-small-button up-go-publish">' +
                    esc(t("up_publish")) + "</button></div>";
                body.querySelector(".up-go-publish").addEventListener("click", publishTool);
                return null;
            }
            return json("GET", base + "/compliance").then(function (doc) {
                if (U.drawerUpload !== u.id || U.drawer !== "compliance") { return null; }
                body.innerHTML = complianceTable(doc);
                exportBar(body, [["geojson", t("up_conflict_download")], ["xlsx", t("up_export_xlsx")],
                                 ["csv", t("up_export_csv")]],
                          function (f) { return base + "/compliance." + f; }, "compliance.");
                return json("GET", base + "/compliance.geojson", {accept: "application/geo+json"});
            });
        }).then(function (fc) {
            if (!fc || U.drawerUpload !== u.id || U.drawer !== "compliance") { return; }
            clearTemp();
            U.temp = L.geoJSON(fc, {pane: paneOf("conflicts"), style: function () {
                return {color: "#d7191c", weight: 2, fillColor: "#d7191c", fillOpacity: 0.55,
                        className: "up-conflict"}; },
                onEachFeature: function (f, layer) {
                    var p = f.properties || {};
                    layer.bindTooltip(esc(p.label || p.feature) + " · " + esc(p.constraint_title || p.kind) + " · " +
                        esc(num(p.conflict_area_m2, 1)) + " " + esc(t("up_m2")), {sticky: true});
                }}).addTo(U.map);
            if (U.temp.getBounds().isValid()) { U.map.fitBounds(U.temp.getBounds(), framing(14)); }
        }).catch(function (err) { body.innerHTML = errorHtml(err); });
    }

    /* 发布管控边界: the planner's own file → POST /constraints (API key, sessionStorage). */
    var KINDS = ["生态保护红线", "永久基本农田", "城镇开发边界"];

    function publishTool() {
        var body = openDrawer("publish", t("up_publish"));
        body.innerHTML = '<div class="ws-hint">' + esc(t("up_publish_note")) + "</div>" +
            '<div class="ws-form up-tool-form"><span>' + esc(t("up_publish_file")) +
            '</span><input type="file" id="up-publish-file" multiple accept=".zip,.shp,.shx,.dbf,.prj,.cpg,.gpkg,.geojson,.json,.kml,.kmz,.txt">' +
            "<span>" + esc(t("up_publish_kind")) + '</span><select id="up-publish-kind">' +
            KINDS.map(function (k) { return '<option value="' + esc(k) + '">' + esc(k) + "</option>"; }).join("") +
            '<option value="">' + esc(t("up_kind_custom")) + "</option></select>" +
            '<span class="up-custom">' + esc(t("up_publish_custom_kind")) + '</span><input type="text" class="up-custom" id="up-publish-custom">' +
            '<span class="up-custom">' + esc(t("up_publish_custom_id")) + '</span><input type="text" class="up-custom" id="up-publish-id">' +
            "<span>" + esc(t("up_publish_title")) + '</span><input type="text" id="up-publish-title"></div>' +
            '<div class="ws-actions"><button type="button" class="up-primary up-publish-go">' + esc(t("up_publish_go")) +
            '</button></div><div class="up-publish-result"></div>';
        var kind = $("up-publish-kind");
        var custom = function () {
            body.querySelectorAll(".up-custom").forEach(function (n) { n.hidden = kind.value !== ""; });
        };
        kind.addEventListener("change", custom);
        custom();
        body.querySelector(".up-publish-go").addEventListener("click", publish);
    }

    function publish() {
        var body = $("up-drawer-body"), out = body.querySelector(".up-publish-result");
        var files = Array.prototype.slice.call($("up-publish-file").files);
        if (!files.length) { return; }
        var kind = $("up-publish-kind").value || $("up-publish-custom").value.trim();
        var q = ["dry_run=false", "kind=" + encodeURIComponent(kind)];
        var id = $("up-publish-id").value.trim(), title = $("up-publish-title").value.trim();
        if (!$("up-publish-kind").value && id) { q.push("id=" + encodeURIComponent(id)); }
        if (title) { q.push("title=" + encodeURIComponent(title)); }
        var key = apiKey(true);
        if (!key) { return; }
        out.innerHTML = '<div class="ws-hint up-busy">' + esc(t("up_saving")) + "</div>";
        json("POST", "/constraints?" + q.join("&"), {body: formData(files), token: key}).then(function (doc) {
            var l = doc.layer || {};
            out.innerHTML = '<div class="up-done up-published" data-layer="' + esc(l.id) + '">✓ ' +
                esc(t("up_publish_done")) + "：" + esc(l.title_zh) + "（" + esc(l.kind) + "）</div>" +
                '<table class="up-facts"><tr><th>' + esc(t("up_count")) + "</th><td>" + esc(num(l.feature_count, 0)) +
                "</td></tr><tr><th>" + esc(t("up_area")) + "</th><td>" + esc(num(l.area_km2, 4)) + " " + esc(t("up_km2")) +
                " · " + esc(num(l.area_mu, 1)) + " " + esc(t("up_mu")) + "</td></tr></table>";
            $("up-publish-file").value = "";
        }).catch(function (err) {
            if (err.status === 401) { dropApiKey(); }
            out.innerHTML = errorHtml(err);
        });
    }

    /* ---- axes editor ------------------------------------------------------------ */

    function axesEditor() {
        var body = openDrawer("axes", t("up_axes_editor"));
        body.innerHTML = '<div class="up-tool-row up-template-row" hidden><a class="ws-small-button up-template" href="' +
            esc(url("/axes/template.xlsx")) + '" download>' + esc(t("up_axes_template")) + "</a></div>" +
            '<div class="ws-form up-tool-form"><span>' + esc(t("up_axes_pick")) +
            '</span><input type="file" id="up-axes-nodes" accept=".csv,.xlsx">' +
            "<span>" + esc(t("up_axes_edges")) + '</span><input type="file" id="up-axes-edges" accept=".csv,.xlsx"></div>' +
            '<div class="ws-actions"><button type="button" class="up-primary up-axes-run">' + esc(t("up_axes_run")) +
            '</button></div><div class="up-axes-result"></div>';
        endpoints().then(function (found) {
            body.querySelector(".up-template-row").hidden = !found["/axes/template.xlsx"];
        });
        body.querySelector(".up-axes-run").addEventListener("click", function () { runAxes(true); });
    }

    function axesForm(dryRun, scenario) {
        var form = new FormData(), nodes = $("up-axes-nodes").files[0], edges = $("up-axes-edges").files[0];
        form.append("nodes", nodes, nodes.name);
        if (edges) { form.append("axes", edges, edges.name); }
        form.append("dry_run", dryRun ? "true" : "false");
        if (scenario) { form.append("scenario", scenario); }
        return form;
    }

    function problemsTable(problems) {
        return '<h4 class="up-bad">' + esc(t("up_axes_problems")) + "（" + problems.length + "）</h4>" +
            '<table class="up-table up-problems"><thead><tr><th>' + esc(t("up_axes_table")) + "</th><th>" +
            esc(t("up_axes_row")) + "</th><th>" + esc(t("up_axes_column")) + "</th><th></th></tr></thead><tbody>" +
            problems.map(function (p) {
                return "<tr><td>" + esc(p.table) + "</td><td>" + esc(p.row) + "</td><td>" + esc(p.column) +
                    "</td><td>" + esc(bilingualText(p.message)) + "</td></tr>"; }).join("") + "</tbody></table>";
    }

    function drawAxes(doc) {
        clearTemp();
        var pane = paneOf("axes-editor"), group = L.featureGroup();
        L.geoJSON(doc.domains, {pane: pane, style: function () {
            return {color: "#c51b7d", weight: 0.5, fillColor: "#f1b6da", fillOpacity: 0.35, className: "up-axis-domain"}; }
        }).addTo(group);
        L.geoJSON(doc.axes, {pane: pane, style: function (f) {
            var rank = f.properties.rank;
            return {color: "#c51b7d", weight: rank === "main" ? 5 : (rank === "secondary" ? 3 : 2),
                    dashArray: rank === "branch" ? "4 4" : null, className: "up-axis-line"}; },
            onEachFeature: function (f, layer) {
                layer.bindTooltip(esc(f.properties.name || f.properties.members || f.properties.axis_id) +
                    " <small>" + esc(t("up_axes_generated")) + "</small>", {sticky: true});
            }
        }).addTo(group);
        L.geoJSON(doc.nodes, {pane: pane,
            pointToLayer: function (f, latlng) {
                var tier = f.properties.tier;
                return L.circleMarker(latlng, {pane: pane, radius: tier === "county_town" ? 8 : (tier === "central_town" ? 6 : 4),
                    color: "#fff", weight: 1.5, fillColor: TIER_COLOURS[tier] || "#666", fillOpacity: 1,
                    className: "up-axis-node"});
            },
            onEachFeature: function (f, layer) {
                layer.bindTooltip(esc(f.properties.name) + " <small>" + esc(f.properties.tier_zh || f.properties.tier) +
                    "</small>");
            }
        }).addTo(group);
        U.temp = group.addTo(U.map);
        if (group.getBounds().isValid()) { U.map.fitBounds(group.getBounds(), framing(12)); }
    }

    function runAxes(dryRun, scenario) {
        var body = $("up-drawer-body"), out = body.querySelector(".up-axes-result");
        if (!$("up-axes-nodes").files.length) { return; }
        var key = "";
        if (!dryRun) {
            key = apiKey(true);
            if (!key) { return; }
        }
        out.innerHTML = '<div class="ws-hint up-busy">' + esc(t("loading")) + "</div>";
        json("POST", "/axes/generate", {body: axesForm(dryRun, scenario), token: key || null}).then(function (doc) {
            drawAxes(doc);
            var count = function (fc) { return fc && fc.features ? fc.features.length : 0; };
            out.innerHTML = "<h4>" + esc(t(dryRun ? "up_axes_result" : "up_axes_saved")) + "</h4>" +
                '<table class="up-facts"><tr><th>' + esc(t("up_axes_nodes")) + '</th><td class="up-n-nodes">' +
                count(doc.nodes) + "</td></tr><tr><th>" + esc(t("up_axes_axes")) + "</th><td>" + count(doc.axes) +
                "</td></tr><tr><th>" + esc(t("up_axes_domains")) + "</th><td>" + count(doc.domains) + "</td></tr></table>" +
                (doc.schematic ? '<div class="ws-badge">' + esc(t("up_axes_generated")) + "</div>" : "") +
                ((doc.unplaced || []).length ? '<div class="up-warn">' + esc(t("up_axes_unplaced")) + "：" +
                    doc.unplaced.map(function (n) { return esc(n.name); }).join("、") + "</div>" : "") +
                ((doc.warnings || []).length ? '<ul class="up-warnings">' + doc.warnings.map(function (w) {
                    return "<li>" + esc(bilingualText(w.message) || w.zh || w.code) + "</li>"; }).join("") + "</ul>" : "") +
                (dryRun ? '<div class="up-save-row"><input type="text" class="up-scenario" placeholder="' +
                    esc(t("up_axes_scenario")) + '" aria-label="' + esc(t("up_axes_scenario")) +
                    '"><button type="button" class="up-primary up-axes-save">' + esc(t("up_axes_save")) +
                    "</button></div>" : "");
            var save = out.querySelector(".up-axes-save");
            if (save) {
                save.addEventListener("click", function () {
                    runAxes(false, out.querySelector(".up-scenario").value.trim());
                });
            }
        }).catch(function (err) {
            if (err.status === 401) { dropApiKey(); }
            var problems = (err.detail && err.detail.problems) || [];
            out.innerHTML = errorHtml(err) + (problems.length ? problemsTable(problems) : "");
        });
    }

    /* ---- indicator tables ------------------------------------------------------- */

    function indicatorTool() {
        var body = openDrawer("indicators", t("up_indicators"));
        body.innerHTML = '<div class="ws-form up-tool-form"><span>' + esc(t("up_indicators_pick")) +
            '</span><input type="file" id="up-ind-file" accept=".csv,.xlsx"></div>' +
            '<div class="ws-actions"><button type="button" class="up-primary up-ind-run">' +
            esc(t("up_indicators_run")) + '</button></div><div class="up-ind-result"></div>';
        body.querySelector(".up-ind-run").addEventListener("click", function () { runIndicators(true); });
    }

    function runIndicators(dryRun) {
        var body = $("up-drawer-body"), out = body.querySelector(".up-ind-result");
        var file = $("up-ind-file").files[0];
        if (!file) { return; }
        var key = dryRun ? "" : apiKey(true);
        if (!dryRun && !key) { return; }
        var form = new FormData();
        form.append("file", file, file.name);
        form.append("dry_run", dryRun ? "true" : "false");
        out.innerHTML = '<div class="ws-hint up-busy">' + esc(t("loading")) + "</div>";
        json("POST", "/indicators", {body: form, token: key || null}).then(function (r) {
            var s = r.summary || {};
            var unmatched = (r.unmatched || []).map(function (m) {
                return "<tr><td>" + esc(m.row) + "</td><td>" + esc(m.key) + "</td><td>" +
                    esc((m.suggestions || []).map(function (x) { return x.name || x.code || x; }).join("、")) +
                    "</td></tr>"; }).join("");
            out.innerHTML = "<h4>" + esc(t(r.saved ? "up_indicators_saved" : "up_indicators_result")) + "</h4>" +
                '<table class="up-facts">' + [["up_rows", s.rows], ["up_matched", s.matched],
                    ["up_unmatched", s.unmatched], ["up_ambiguous", s.ambiguous],
                    ["up_invalid_values", s.invalid_values]].map(function (p) {
                    return p[1] == null ? "" : '<tr><th>' + esc(t(p[0])) + '</th><td class="up-' + p[0] + '">' +
                        esc(num(p[1], 0)) + "</td></tr>"; }).join("") +
                (r.key_column ? "<tr><th>" + esc(t("up_key_column")) + "</th><td>" + esc(r.key_column) + "</td></tr>" : "") +
                "</table>" +
                (unmatched ? '<details class="up-by-feature" open><summary>' + esc(t("up_unmatched")) +
                    '</summary><table class="up-table"><thead><tr><th>' + esc(t("up_axes_row")) + "</th><th>" +
                    esc(t("up_key_column")) + "</th><th>" + esc(t("up_suggestions")) + "</th></tr></thead><tbody>" +
                    unmatched + "</tbody></table></details>" : "") +
                '<ul class="up-indicators">' + (r.indicators || []).map(function (i) {
                    return "<li>" + esc(i.title_zh || i.title || i.id) + (i.unit ? "（" + esc(i.unit) + "）" : "") +
                        (r.saved ? ' <a class="up-map-link" href="' + esc(url("/maps/choropleth?indicator=" +
                            encodeURIComponent(i.id))) + '">' + esc(t("up_map_it")) + " →</a>" : "") + "</li>";
                }).join("") + "</ul>" +
                (dryRun ? '<div class="ws-actions"><button type="button" class="up-primary up-ind-save">' +
                    esc(t("up_indicators_save")) + "</button></div>" : "");
            var save = out.querySelector(".up-ind-save");
            if (save) { save.addEventListener("click", function () { runIndicators(false); }); }
        }).catch(function (err) {
            if (err.status === 401) { dropApiKey(); }
            out.innerHTML = errorHtml(err);
        });
    }

    /* ---- start ------------------------------------------------------------------ */

    function relabel() {
        document.querySelectorAll("#up-section [data-i18n]").forEach(function (node) {
            node.textContent = t(node.getAttribute("data-i18n"));
        });
    }

    function start(map, o) {
        U.map = map;
        U.root = o.root || "";
        U.oldCrs = o.old_crs || [];
        ["zh", "en"].forEach(function (lang) {
            W.state.messages[lang] = Object.assign(W.state.messages[lang] || {}, o.messages[lang]);
        });
        var section = $("up-section"), side = $("ws-side");
        var catalogue = side.querySelector(".ws-catalogue-section");
        side.insertBefore(section, catalogue);
        map.getContainer().appendChild($("up-drawer"));
        L.DomEvent.disableClickPropagation($("up-drawer"));
        L.DomEvent.disableScrollPropagation($("up-drawer"));
        $("up-drawer-close").addEventListener("click", closeDrawer);

        var drop = $("up-drop"), input = $("up-file");
        input.addEventListener("change", function () { check(input.files); });
        ["dragenter", "dragover"].forEach(function (name) {
            drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("up-over"); });
        });
        ["dragleave", "drop"].forEach(function (name) {
            drop.addEventListener(name, function () { drop.classList.remove("up-over"); });
        });
        drop.addEventListener("drop", function (e) {
            e.preventDefault();
            check(e.dataTransfer.files);
        });
        $("up-axes-open").addEventListener("click", axesEditor);
        $("up-ind-open").addEventListener("click", indicatorTool);
        $("up-publish-open").addEventListener("click", publishTool);
        endpoints().then(function (found) { $("up-publish-open").hidden = !found["/constraints"]; });

        var onLang = function () {
            relabel();
            renderKey();
            renderList();
            if (U.drawer === "report" && U.report) { renderReport(); }
        };
        W.state.listeners.push(onLang);
        relabel();
        renderKey();
        refresh();
    }

    global.Uploads = {start: start, state: U, accessKey: accessKey};
})(window);
