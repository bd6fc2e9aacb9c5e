/* Indicator charts (ECharts, vendored: static/countycare/vendor/echarts-5.6.0.min.js).
   Each chart is a <div data-chart="targets|trend|ranking" data-source="ID"> whose data sits
   in <script type="application/json" id="ID"> (Django's json_script). */
(function () {
  "use strict";
  var BLUE = "#2471a3", RED = "#c0392b", GREEN = "#1e8449", GREY = "#999";

  function data(el) {
    var node = document.getElementById(el.getAttribute("data-source"));
    return node ? JSON.parse(node.textContent) : null;
  }
  function label(el, key, fallback) { return el.getAttribute("data-" + key) || fallback; }

  function targets(el, rows) {
    var names = rows.map(function (r) { return r.name; });
    return {
      grid: { left: 8, right: 40, top: 30, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { data: [label(el, "value-label", "value"), label(el, "target-label", "target")] },
      xAxis: { type: "value", max: function (v) { return Math.max(100, Math.ceil(v.max)); } },
      yAxis: { type: "category", data: names, inverse: true, axisLabel: { width: 190, overflow: "truncate" } },
      series: [
        { name: label(el, "value-label", "value"), type: "bar",
          data: rows.map(function (r) { return { value: r.value, itemStyle: { color: r.met ? GREEN : RED } }; }),
          label: { show: true, position: "insideRight", color: "#fff", formatter: "{c}" } },
        { name: label(el, "target-label", "target"), type: "scatter", symbol: "rect", symbolSize: [4, 18],
          itemStyle: { color: "#333" }, data: rows.map(function (r) { return r.target; }) }
      ]
    };
  }

  function trend(el, rows) {
    var hasTarget = rows.some(function (r) { return r.target !== null; });
    var series = [{ name: label(el, "value-label", "value"), type: "line", connectNulls: false,
                    itemStyle: { color: BLUE }, data: rows.map(function (r) { return r.value; }) }];
    if (hasTarget) {
      series.push({ name: label(el, "target-label", "target"), type: "line", step: "middle",
                    lineStyle: { type: "dashed", color: GREY }, itemStyle: { color: GREY }, symbol: "none",
                    data: rows.map(function (r) { return r.target; }) });
    }
    return {
      grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: {},
      xAxis: { type: "category", data: rows.map(function (r) { return r.period; }) },
      yAxis: { type: "value", scale: true },
      series: series
    };
  }

  function ranking(el, rows) {
    // Rates of the townships lie close together: the axis starts near the lowest value (and
    // says so), and the target is drawn as a line, so the differences can be seen.
    var target = rows.length ? rows[0].target : null;
    var series = { type: "bar", itemStyle: { color: BLUE }, label: { show: true, position: "right" },
                   data: rows.map(function (r) {
                     var below = target !== null && r.value < target;
                     return { value: r.value, itemStyle: { color: below ? RED : BLUE } };
                   }) };
    if (target !== null) {
      series.markLine = { symbol: "none", silent: true, lineStyle: { color: "#333", type: "dashed" },
                          label: { formatter: label(el, "target-label", "target") + " {c}" },
                          data: [{ xAxis: target }] };
    }
    return {
      grid: { left: 8, right: 50, top: 24, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", scale: true,
               min: function (v) {
                 var low = target !== null ? Math.min(v.min, target) : v.min;
                 var high = target !== null ? Math.max(v.max, target) : v.max;
                 return Math.max(0, Math.floor(low - (high - low) * 0.25 - 1));
               },
               max: function (v) {
                 return Math.ceil(target !== null ? Math.max(v.max, target) : v.max);
               } },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }),
               axisLabel: { width: 200, overflow: "truncate" } },
      series: [series]
    };
  }

  var BUILDERS = { targets: targets, trend: trend, ranking: ranking };

  function draw() {
    if (!window.echarts) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var rows = data(el), build = BUILDERS[el.getAttribute("data-chart")];
      if (!rows || !rows.length || !build) { el.hidden = true; return; }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(build(el, rows));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
