/* Family-doctor pages: ECharts (vendored, static/countycare/vendor/echarts-5.6.0.min.js) for the
   coverage page and the resident page's trends, and the tablet signature pad of the contract
   form. Chart data sits in <script type="application/json"> (Django's json_script). */
(function () {
  "use strict";
  var BLUE = "#2471a3", ORANGE = "#d35400", GREEN = "#1e8449", RED = "#c0392b", GREY = "#888";

  function data(el) {
    var node = document.getElementById(el.getAttribute("data-source"));
    return node ? JSON.parse(node.textContent) : null;
  }
  function label(el, key, fallback) { return el.getAttribute("data-" + key) || fallback; }

  function coverage(el, rows) {
    el.style.height = Math.max(240, rows.length * 38 + 70) + "px";
    var target = rows.length ? rows[0].target : null, keyTarget = rows.length ? rows[0].key_target : null;
    var lines = [];
    if (target !== null) { lines.push({ xAxis: target, lineStyle: { color: BLUE, type: "dashed" }, label: { formatter: label(el, "target", "target") + " " + target + "%" } }); }
    if (keyTarget !== null) { lines.push({ xAxis: keyTarget, lineStyle: { color: ORANGE, type: "dashed" }, label: { formatter: keyTarget + "%" } }); }
    return {
      grid: { left: 8, right: 48, top: 34, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
      legend: { data: [label(el, "all", "all"), label(el, "key", "key")] },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }), axisLabel: { width: 150, overflow: "truncate" } },
      series: [
        { name: label(el, "all", "all"), type: "bar", barGap: "10%", itemStyle: { color: BLUE },
          data: rows.map(function (r) { return { value: r.value, itemStyle: { color: r.met ? BLUE : RED } }; }),
          label: { show: true, position: "right", formatter: "{c}%" }, markLine: { symbol: "none", data: lines } },
        { name: label(el, "key", "key"), type: "bar", itemStyle: { color: ORANGE },
          data: rows.map(function (r) { return r.key; }), label: { show: true, position: "right", formatter: "{c}%" } }
      ]
    };
  }

  function followMarks(trends, value) {
    return (trends.follow_ups || []).map(function (f) {
      return { xAxis: f.day, lineStyle: { color: f.referral ? RED : "#bbb", type: f.referral ? "solid" : "dotted" }, label: { show: false } };
    });
  }

  function timeAxis(trends) {
    var axis = { type: "time", axisLabel: { hideOverlap: true } };
    if (trends.range) { axis.min = trends.range[0]; axis.max = trends.range[1] + " 23:59"; }
    return axis;
  }

  function bp(el, trends) {
    var s = trends.series;
    if (!(s.sbp.length || s.dbp.length)) { return null; }
    return {
      grid: { left: 8, right: 40, top: 34, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: { data: [label(el, "sbp", "SBP"), label(el, "dbp", "DBP")] },
      xAxis: timeAxis(trends),
      yAxis: { type: "value", min: function (v) { return Math.min(60, v.min - 10); }, max: function (v) { return Math.max(190, v.max + 10); } },
      series: [
        { name: label(el, "sbp", "SBP"), type: "line", symbolSize: 6, itemStyle: { color: RED }, data: s.sbp,
          markLine: { symbol: "none", silent: true, data: [
            { yAxis: 140, lineStyle: { color: GREEN, type: "dashed" }, label: { formatter: "140" } },
            { yAxis: 180, lineStyle: { color: RED, type: "dashed" }, label: { formatter: "180" } }
          ].concat(followMarks(trends)) } },
        { name: label(el, "dbp", "DBP"), type: "line", symbolSize: 6, itemStyle: { color: BLUE }, data: s.dbp,
          markLine: { symbol: "none", silent: true, data: [
            { yAxis: 90, lineStyle: { color: GREEN, type: "dashed" }, label: { formatter: "90" } },
            { yAxis: 110, lineStyle: { color: RED, type: "dashed" }, label: { formatter: "110" } }
          ] } }
      ]
    };
  }

  function glucose(el, trends) {
    var s = trends.series;
    if (!(s.fasting_glucose.length || s.random_glucose.length)) { return null; }
    var series = [
      { name: label(el, "fasting", "fasting"), type: "line", symbolSize: 6, itemStyle: { color: ORANGE }, data: s.fasting_glucose,
        markLine: { symbol: "none", silent: true, data: [
          { yAxis: 7.0, lineStyle: { color: GREEN, type: "dashed" }, label: { formatter: "7.0" } },
          { yAxis: 16.7, lineStyle: { color: RED, type: "dashed" }, label: { formatter: "16.7" } },
          { yAxis: 3.9, lineStyle: { color: RED, type: "dashed" }, label: { formatter: "3.9" } }
        ].concat(followMarks(trends)) } },
      { name: label(el, "random", "random"), type: "scatter", symbolSize: 7, itemStyle: { color: GREY }, data: s.random_glucose }
    ];
    var legend = [label(el, "fasting", "fasting"), label(el, "random", "random")];
    var yAxes = [{ type: "value", min: 0, max: function (v) { return Math.max(18, Math.ceil(v.max + 1)); } }];
    if (s.hba1c.length) {
      series.push({ name: label(el, "hba1c", "HbA1c"), type: "line", yAxisIndex: 1, step: "end", symbol: "diamond", itemStyle: { color: "#7d3c98" }, data: s.hba1c });
      legend.push(label(el, "hba1c", "HbA1c"));
      yAxes.push({ type: "value", min: 4, max: 14, splitLine: { show: false }, axisLabel: { formatter: "{value}%" } });
    }
    return {
      grid: { left: 8, right: 40, top: 34, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" }, legend: { data: legend }, xAxis: timeAxis(trends), yAxis: yAxes, series: series
    };
  }

  var BUILDERS = { coverage: coverage, bp: bp, glucose: glucose };

  function draw() {
    if (!window.echarts) { return; }
    document.querySelectorAll("[data-fd-chart]").forEach(function (el) {
      var rows = data(el), build = BUILDERS[el.getAttribute("data-fd-chart")];
      var option = rows && build ? build(el, rows) : null;
      if (!option || (Array.isArray(rows) && !rows.length)) { el.closest("figure") ? el.closest("figure").hidden = true : el.hidden = true; return; }
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option);
      el.setAttribute("data-drawn", "1");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  // --- the signature pad of the contract form -------------------------------------------------
  function pads() {
    document.querySelectorAll(".fd-consent").forEach(function (box) {
      var form = box.closest("form"), canvas = box.querySelector("canvas"), input = box.querySelector("input[name=signature]");
      var radios = box.querySelectorAll("input[name=consent_method]");
      function show() {
        var chosen = box.querySelector("input[name=consent_method]:checked");
        var method = chosen ? chosen.value : "tablet";
        box.querySelectorAll("[data-consent]").forEach(function (part) { part.hidden = part.getAttribute("data-consent") !== method; });
      }
      radios.forEach(function (r) { r.addEventListener("change", show); });
      show();
      if (!canvas) { return; }
      var ctx = canvas.getContext("2d"), drawing = false, drawn = false;
      ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
      function point(e) {
        var r = canvas.getBoundingClientRect();
        return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
      }
      canvas.addEventListener("pointerdown", function (e) { drawing = true; var p = point(e); ctx.beginPath(); ctx.moveTo(p.x, p.y); canvas.setPointerCapture(e.pointerId); });
      canvas.addEventListener("pointermove", function (e) { if (!drawing) { return; } var p = point(e); ctx.lineTo(p.x, p.y); ctx.stroke(); drawn = true; });
      canvas.addEventListener("pointerup", function () { drawing = false; });
      var clear = box.querySelector("[data-pad-clear]");
      if (clear) { clear.addEventListener("click", function () { ctx.clearRect(0, 0, canvas.width, canvas.height); drawn = false; input.value = ""; }); }
      form.addEventListener("submit", function () { if (drawn) { input.value = canvas.toDataURL("image/png"); } });
    });
  }

  function start() { draw(); pads(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
