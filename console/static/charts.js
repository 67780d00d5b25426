// The console's charts (ECharts, vendored): every element with a data-chart attribute is drawn from that JSON
// (console/dashboard/charts.py says its shape). A file, not inline script: the CSP allows none. Drawn when the
// page loads and again after htmx swaps new content in (the dashboard refreshes itself); the charts of swapped-out
// content are disposed of first. Tooltips are drawn on the canvas (renderMode richText): an HTML tooltip would
// need inline styles, which the CSP refuses.
(function () {
  "use strict";

  function percent(value) {
    return value === null || value === undefined ? "-" : (value * 100).toFixed(1) + "%";
  }

  function pieOption(spec) {
    var series = spec.series[0];
    var data = spec.categories.map(function (name, i) {
      return { name: name, value: series.data[i], itemStyle: series.colors ? { color: series.colors[i] } : undefined };
    });
    var total = series.data.reduce(function (a, b) { return a + b; }, 0);
    return {
      animation: false,
      tooltip: { trigger: "item", renderMode: "richText" },
      legend: { bottom: 0, icon: "circle" },
      title: { text: String(total), subtext: "件", left: "center", top: "36%", textStyle: { fontSize: 22 } },
      series: [{ type: "pie", name: series.name, radius: ["48%", "72%"], center: ["50%", "45%"], data: data,
                 label: { formatter: "{b} {c}" }, avoidLabelOverlap: true }]
    };
  }

  function axisOption(spec) {
    var value = { type: "value", minInterval: spec.percent ? 0 : 1,
                  axisLabel: { formatter: spec.percent ? function (v) { return Math.round(v * 100) + "%"; } : "{value}" } };
    if (spec.percent) { value.max = 1; }
    var category = { type: "category", data: spec.categories, axisLabel: { interval: "auto" } };
    if (spec.horizontal) { category.inverse = true; }
    return {
      animation: false,
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: spec.percent ? percent : undefined },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: spec.horizontal ? value : category,
      yAxis: spec.horizontal ? category : value,
      series: spec.series.map(function (s) {
        return { type: spec.type, name: s.name, data: s.data, stack: s.stack, connectNulls: false,
                 itemStyle: s.color ? { color: s.color } : undefined, lineStyle: s.color ? { color: s.color } : undefined,
                 barMaxWidth: 28, symbolSize: 5 };
      })
    };
  }

  function draw(root) {
    if (typeof echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (echarts.getInstanceByDom(el)) { return; }
      var spec = JSON.parse(el.getAttribute("data-chart"));
      var chart = echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
      chart.setOption(spec.type === "pie" ? pieOption(spec) : axisOption(spec));
    });
  }

  function dispose(root) {
    if (typeof echarts === "undefined" || !root || !root.querySelectorAll) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el);
      if (chart) { chart.dispose(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:beforeSwap", function (event) { dispose(event.detail.target); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = typeof echarts === "undefined" ? null : echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  });
}());
