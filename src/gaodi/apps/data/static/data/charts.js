/* Bar charts of the data resource statistics with the vendored ECharts; the tables stay in the page. */
(function () {
  "use strict";
  document.querySelectorAll(".data-chart").forEach(function (el) {
    var src = document.getElementById(el.dataset.source);
    if (!src || typeof echarts === "undefined") { return; }
    var rows = JSON.parse(src.textContent);
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 50, right: 20, top: 20, bottom: 60 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.label; }), axisLabel: { rotate: 20 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: rows.map(function (r) { return r.count; }) }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
