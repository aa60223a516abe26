/* Projects on the axes map (maps/elements/projects.py): markers coloured by status, filters
 * (status/type/county selects in the projects panel), popups with the project's monthly
 * curve drawn by ECharts (served from /static/vendor) from /projects/{id}/curve. */
(function (global) {
    "use strict";

    var esc = global.Atlas.esc;

    function popupHtml(f) {
        return '<div class="atlas-popup project-popup"><b>' + esc(f.name) + "</b><br>" +
            esc(f.type) + " · " + esc(f.county || "—") + " · " + esc(f.axis) + "<br>" +
            "预警 " + esc(f.status_zh) + " " + esc(f.status) + " · 计划 " + esc(f.planned) +
            "% / 实际 " + esc(f.actual) + "% · 滞后 " + esc(f.lag) + " pp<br>" +
            "总投资 " + esc(f.total) + " 万元 · 累计完成 " + esc(f.invested == null ? "—" : f.invested) +
            " 万元<br><small>责任单位 " + esc(f.owner || "—") + " · 更新 " + esc(f.date) +
            ' · 算法生成预警</small><div class="project-curve" style="width:320px;height:170px">' +
            "</div></div>";
    }

    function drawCurve(el, data) {
        if (!global.echarts || !data.length) { el.textContent = "暂无曲线 No curve"; return; }
        var chart = global.echarts.init(el, null, {renderer: "svg"});
        chart.setOption({
            animation: false, grid: {left: 36, right: 44, top: 28, bottom: 22},
            legend: {textStyle: {fontSize: 10}, itemWidth: 12},
            tooltip: {trigger: "axis"},
            xAxis: {type: "category", data: data.map(function (d) { return d.month; })},
            yAxis: [{type: "value", max: 100, name: "%"}, {type: "value", name: "万元"}],
            series: [
                {name: "计划%", type: "line", data: data.map(function (d) { return d.planned_pct; })},
                {name: "实际%", type: "line", data: data.map(function (d) { return d.actual_pct; })},
                {name: "完成投资", type: "bar", yAxisIndex: 1,
                 data: data.map(function (d) { return d.invested_wan; })}]
        });
    }

    function layer(map, o) {
        var group = L.featureGroup().addTo(map);
        var markers = [];
        o.features.forEach(function (f) {
            var m = L.circleMarker([f.lat, f.lon], {
                radius: 6, color: "#222222", weight: 2, fillColor: o.colours[f.status],
                fillOpacity: 0.95, className: "project-marker project-status-" + f.status
            }).bindTooltip(esc(f.name) + " · " + esc(f.status_zh))
              .bindPopup(popupHtml(f), {maxWidth: 360});
            m.on("popupopen", function (e) {
                var url = o.root + "/projects/" + encodeURIComponent(f.id) + "/curve" +
                    (o.scenario ? "?scenario=" + encodeURIComponent(o.scenario) : "");
                // The chart's box is looked up when the data arrives: Leaflet may have
                // re-rendered the popup's content meanwhile (a box found earlier is detached).
                function box() {
                    var root = e.popup.getElement();
                    return root ? root.querySelector(".project-curve") : null;
                }
                fetch(url).then(function (r) { return r.json(); })
                    .then(function (body) { var el = box(); if (el) { drawCurve(el, body.curve || []); } })
                    .catch(function () { var el = box(); if (el) { el.textContent = "曲线读取失败 curve unavailable"; } });
            });
            m.project = f;
            markers.push(m);
            m.addTo(group);
        });
        document.addEventListener("change", function (e) {
            if (!e.target.classList || !e.target.classList.contains("project-filter")) { return; }
            var wanted = {};
            document.querySelectorAll("select.project-filter").forEach(function (s) {
                if (s.value) { wanted[s.getAttribute("data-field")] = s.value; }
            });
            markers.forEach(function (m) {
                var ok = Object.keys(wanted).every(function (k) { return m.project[k] === wanted[k]; });
                if (ok && !group.hasLayer(m)) { group.addLayer(m); }
                if (!ok && group.hasLayer(m)) { group.removeLayer(m); }
            });
        });
        return group;
    }

    global.AtlasProjects = {layer: layer, drawCurve: drawCurve};
})(window);
