/* 一轴一方案 plan sheet (maps/templates/plan_sheet.html): the axis's monthly curve, drawn by the
 * same ECharts code as the project popups on /maps/axes (static/js/projects.js). */
(function () {
    "use strict";
    var data = JSON.parse(document.getElementById("curve-data").textContent);
    var el = document.getElementById("curve");
    if (!data.length) { el.textContent = "暂无快照 No snapshots yet"; return; }
    window.AtlasProjects.drawCurve(el, data);
}());
