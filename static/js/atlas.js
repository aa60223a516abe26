/* Gongfu Atlas map helpers (loaded by the maps/elements that need them; no build step).
 *
 * One copy of: HTML escaping, the info-box control, the feature-property tooltip table,
 * fact-sheet popups, ledger markers and the vector-tile layer loader (Leaflet.VectorGrid).
 * Folium page glue calls these as `Atlas.name(...)` with JSON options.
 */
(function (global) {
    "use strict";

    var ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};

    /* Text made safe for innerHTML (null and undefined become ""). */
    function esc(s) {
        return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
            return ENTITIES[c];
        });
    }

    /* A Leaflet control holding trusted HTML (rendered and escaped by the server). */
    function infoBox(map, html, position) {
        var box = L.control({position: position});
        box.onAdd = function () {
            var div = L.DomUtil.create("div", "atlas-infobox");
            div.innerHTML = html;
            L.DomEvent.disableClickPropagation(div);
            return div;
        };
        box.addTo(map);
        return box;
    }

    /* A tooltip table of `rows` ([field, alias] pairs) from feature properties `p`;
       numbers get the locale's separators, missing values are left out. */
    function propertiesTable(p, rows) {
        var html = '<table class="atlas-vt-tooltip">';
        rows.forEach(function (row) {
            var v = p[row[0]];
            if (v === undefined || v === null) { return; }
            if (typeof v === "number") { v = v.toLocaleString(); }
            html += "<tr><th>" + esc(row[1]) + "</th><td>" + esc(v) + "</td></tr>";
        });
        return html + "</table>";
    }

    /* A place's popup: its figure, citation and a link to its fact sheet (/places/{code}). */
    function factSheetPopup(o) {
        return '<div class="atlas-popup"><b>' + esc(o.name) + "</b><br>" + esc(o.title) +
            ": " + o.value +
            (o.source ? "<br><small>来源 Source: " + esc(o.source) + "</small>" : "") +
            '<br><a class="atlas-factsheet" href="' + esc(o.root) + "/places/" +
            esc(o.code) + '?f=html">地情卡 Fact sheet →</a></div>';
    }

    /* Fact-sheet popups on every feature of an inline GeoJSON choropleth layer (Leaflet's
       own bindPopup: folium's popups need jQuery, which the offline pages do not load). */
    function factSheetPopups(layer, title, root) {
        layer.eachLayer(function (feature) {
            var p = feature.feature.properties;
            var value = p.value == null ? "无数据 No data" :
                esc(p.display) + (p.year ? " (" + esc(p.year) + ")" : "");
            feature.bindPopup(factSheetPopup({name: p.name, title: title, value: value,
                source: p.source, root: root, code: p.code}));
        });
    }

    /* Circle markers with server-rendered HTML popups; `markers` are {lat, lon, html}. */
    function ledgerMarkers(map, markers, colour) {
        var group = L.featureGroup();
        markers.forEach(function (m) {
            L.circleMarker([m.lat, m.lon], {radius: 8, color: "#fff", weight: 2,
                fillColor: colour, fillOpacity: 0.95, className: "atlas-ledger"})
                .bindPopup(m.html, {maxWidth: 420}).addTo(group);
        });
        return group.addTo(map);
    }

    /* Style of a tiled feature: the base style, its fill from `palette` by numeric id. */
    function paletteStyle(o) {
        return function (p) {
            var s = Object.assign({}, o.style);
            if (o.palette.length) {
                var n = parseInt(p[o.idField], 10) || 0;
                s.fillColor = o.palette[n % o.palette.length];
            }
            return s;
        };
    }

    /* Style of a classed (choropleth) feature: `classes` maps id to [colour, figure, source];
       ids without a class get the no-data colour. */
    function classStyle(o) {
        return function (p) {
            var c = o.classes[p[o.idField]];
            return Object.assign({}, o.style, {fillColor: c ? c[0] : o.noData,
                className: c ? "atlas-choropleth" : "atlas-choropleth atlas-nodata"});
        };
    }

    function classText(o, p) {
        var c = o.classes[p[o.idField]];
        return "<b>" + esc(p.name) + "</b><br>" + esc(o.title) + ": " +
            (c ? esc(c[1]) : "无数据 No data");
    }

    /* A layer drawn from our MVT tiles, with hover tooltip and highlight like folium's
       GeoJson layers. Options: url, layerId, idField, style, maxNativeZoom, and either
       palette + tooltip rows + highlight, or (a choropleth) classes + noData + title + root,
       which also gives fact-sheet popups on click. Returns the (not yet added) layer. */
    function vectorTiles(map, o) {
        var classed = !!o.classes;
        var style = classed ? classStyle(o) : paletteStyle(o);
        var styles = {};
        styles[o.layerId] = style;
        var layer = L.vectorGrid.protobuf(o.url, {
            rendererFactory: L.svg.tile,
            interactive: true,
            maxNativeZoom: o.maxNativeZoom,
            vectorTileLayerStyles: styles,
            getFeatureId: function (f) { return f.properties[o.idField]; }
        });
        var highlight = o.highlight || {};
        var highlights = !classed && Object.keys(highlight).length > 0;
        var text = classed ? function (p) { return classText(o, p); }
                           : function (p) { return propertiesTable(p, o.tooltip || []); };
        var tip = null;
        layer.on("mouseover", function (e) {
            if (tip) { map.closeTooltip(tip); }
            tip = L.tooltip({sticky: true}).setLatLng(e.latlng)
                .setContent(text(e.layer.properties)).addTo(map);
            if (highlights) {
                layer.setFeatureStyle(e.layer.properties[o.idField],
                    Object.assign(style(e.layer.properties), highlight));
            }
        });
        layer.on("mousemove", function (e) { if (tip) { tip.setLatLng(e.latlng); } });
        layer.on("mouseout", function (e) {
            if (tip) { map.closeTooltip(tip); tip = null; }
            if (highlights) { layer.resetFeatureStyle(e.layer.properties[o.idField]); }
        });
        if (classed) {
            layer.on("click", function (e) {
                var p = e.layer.properties, c = o.classes[p[o.idField]];
                L.popup().setLatLng(e.latlng).setContent(factSheetPopup({
                    name: p.name, title: o.title, value: c ? esc(c[1]) : "无数据 No data",
                    source: c && c[2], root: o.root, code: p[o.idField]})).openOn(map);
            });
        }
        return layer;
    }

    global.Atlas = {
        esc: esc,
        infoBox: infoBox,
        propertiesTable: propertiesTable,
        factSheetPopup: factSheetPopup,
        factSheetPopups: factSheetPopups,
        ledgerMarkers: ledgerMarkers,
        vectorTiles: vectorTiles
    };
})(window);
