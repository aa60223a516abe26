/* Charts of the index view and the 驾驶舱 (ECharts from /static/vendor, never a CDN).
 *
 * The server writes each chart's complete ECharts option as JSON in a data-echarts attribute
 * (escaped by Jinja); a <select data-chart-for="id"> switches a chart between the options in
 * its data-echarts-choices map (one per place). Drawn charts get data-drawn="1" so tests and
 * planners can see they rendered.
 */
(function () {
  "use strict";

  function draw(el, option) {
    var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option, true);
    el.setAttribute("data-drawn", "1");
    return chart;
  }

  function drawAll(root) {
    var charts = [];
    (root || document).querySelectorAll("[data-echarts]").forEach(function (el) {
      charts.push(draw(el, JSON.parse(el.getAttribute("data-echarts"))));
    });
    (root || document).querySelectorAll("select[data-chart-for]").forEach(function (select) {
      var el = document.getElementById(select.getAttribute("data-chart-for"));
      var choices = JSON.parse(el.getAttribute("data-echarts-choices") || "{}");
      select.addEventListener("change", function () {
        if (choices[select.value]) { draw(el, choices[select.value]); }
      });
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    return charts;
  }

  window.AtlasCharts = { draw: draw, drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
})();
