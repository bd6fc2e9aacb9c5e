/* ECG viewer (issue 10): zoom and calipers on the calibrated SVG (coordinates are paper mm:
   x / speed = seconds, y / gain = mV). No inline script: loaded by the ECG panel. */
(function () {
  "use strict";
  function paper(panel) { return panel.querySelector("svg.ecg-paper"); }
  function toPaper(svg, evt) {
    var pt = svg.createSVGPoint();
    pt.x = evt.clientX; pt.y = evt.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }
  function setup(panel) {
    if (panel.dataset.ecgReady) return;
    panel.dataset.ecgReady = "1";
    var zoom = 1;
    var caliper = false;
    var points = [];
    var readout = panel.querySelector(".ecg-caliper-readout");
    function applyZoom() {
      var svg = paper(panel);
      if (!svg) return;
      var box = svg.viewBox.baseVal;
      if (zoom === 1) { svg.style.width = "100%"; svg.style.height = "auto"; }
      else { svg.style.width = (box.width * 3.78 * zoom) + "px"; svg.style.height = "auto"; }
    }
    function clearMarks() {
      var svg = paper(panel);
      if (!svg) return;
      svg.querySelectorAll(".ecg-caliper").forEach(function (n) { n.remove(); });
      points = [];
      if (readout) readout.textContent = caliper ? readout.dataset.empty : "";
    }
    panel.addEventListener("click", function (evt) {
      var z = evt.target.closest("[data-ecg-zoom]");
      if (z) {
        var step = parseInt(z.dataset.ecgZoom, 10);
        zoom = step === 0 ? 1 : Math.min(6, Math.max(1, zoom * (step > 0 ? 1.5 : 1 / 1.5)));
        applyZoom();
        return;
      }
      var c = evt.target.closest("[data-ecg-calipers]");
      if (c) {
        caliper = !caliper;
        c.setAttribute("aria-pressed", caliper ? "true" : "false");
        clearMarks();
        return;
      }
      var svg = evt.target.closest("svg.ecg-paper");
      if (!svg || !caliper) return;
      var p = toPaper(svg, evt);
      if (points.length === 2) clearMarks();
      points.push(p);
      var ns = "http://www.w3.org/2000/svg";
      var line = document.createElementNS(ns, "path");
      line.setAttribute("class", "ecg-caliper");
      line.setAttribute("d", "M" + p.x + " 0V" + svg.viewBox.baseVal.height);
      line.setAttribute("stroke", "#2563eb");
      line.setAttribute("stroke-width", "0.3");
      svg.appendChild(line);
      if (points.length === 2) {
        var speed = parseFloat(svg.dataset.speed), gain = parseFloat(svg.dataset.gain);
        var ms = Math.abs(points[1].x - points[0].x) / speed * 1000;
        var mv = (points[0].y - points[1].y) / gain;
        var unit = (readout && readout.dataset.rateUnit) || "/min";
        var text = "Δt " + ms.toFixed(0) + " ms · " + (60000 / ms).toFixed(0) + " " + unit + " · ΔV " + mv.toFixed(2) + " mV";
        if (readout) readout.textContent = text;
      }
    });
    panel.addEventListener("htmx:afterSwap", function () { clearMarks(); applyZoom(); });
  }
  function init() { document.querySelectorAll(".ecg-panel").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
