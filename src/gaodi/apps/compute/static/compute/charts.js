/* Draws the compute charts with the vendored ECharts. Each chart is a <div data-chart="kind"
   data-source="json-script-id">; its data table stays in the page for screen readers. */
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function bar(el, labels, series, opts) {
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: opts && opts.rotate ? 90 : 40 },
      xAxis: { type: "category", data: labels, axisLabel: { rotate: opts && opts.rotate ? 40 : 0 } },
      yAxis: { type: "value", name: opts && opts.unit ? opts.unit : "" },
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  function draw(el) {
    var d = data(el.dataset.source);
    if (!d || typeof echarts === "undefined") { return; }
    var L = d.labels || {};
    switch (el.dataset.chart) {
      case "capacity":
        bar(el, d.hubs, [
          { name: L.count, type: "bar", data: d.count },
          { name: L.free, type: "bar", data: d.free }
        ], { rotate: true });
        break;
      case "hub-utilization":
        bar(el, d.hubs, [
          { name: L.utilization, type: "bar", data: d.utilization },
          { name: L.in_use, type: "bar", data: d.in_use_share }
        ], { rotate: true, unit: "%" });
        break;
      case "pool-utilization":
        bar(el, d.pools, [
          { name: L.utilization, type: "bar", data: d.utilization },
          { name: L.in_use, type: "bar", data: d.in_use_share }
        ], { rotate: true, unit: "%" });
        break;
      case "subsidy":
        bar(el, d.programs, [
          { name: L.spent, type: "bar", stack: "b", data: d.spent },
          { name: L.outstanding, type: "bar", stack: "b", data: d.outstanding },
          { name: L.unallocated, type: "bar", stack: "b", data: d.unallocated }
        ], { unit: "¥" });
        break;
      case "sme":
        var chart = echarts.init(el);
        chart.setOption({
          tooltip: { trigger: "item" },
          legend: { top: 0 },
          series: [{ type: "pie", radius: ["35%", "65%"], data: d.slices }]
        });
        break;
      case "queue":
        bar(el, d.groups, [
          { name: L.avg, type: "bar", data: d.avg },
          { name: L.p95, type: "bar", data: d.p95 }
        ], { unit: L.unit });
        break;
      case "timeline":
        var t = echarts.init(el);
        t.setOption({
          tooltip: { trigger: "axis" },
          legend: { top: 0 },
          grid: { left: 60, right: 60, top: 40, bottom: 70 },
          xAxis: { type: "category", data: d.days, axisLabel: { rotate: 40 } },
          yAxis: [{ type: "value", name: L.count }, { type: "value", name: "¥" }],
          series: [
            { name: L.jobs_submitted, type: "bar", data: d.jobs_submitted },
            { name: L.jobs_finished, type: "bar", data: d.jobs_finished },
            { name: L.applications, type: "bar", data: d.applications },
            { name: L.subsidy_spent, type: "line", yAxisIndex: 1, data: d.subsidy_spent }
          ]
        });
        break;
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(draw);
  });
})();
