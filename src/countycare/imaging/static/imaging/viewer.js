/* The study viewer (issue 4). Frames are rendered on the server (pydicom + numpy + Pillow)
   and cached there; this script only asks for them: thumbnails pick the image, multi-frame
   ultrasound plays as cine (frames preloaded, played at the device's frame time), radiographs
   get window/level (a CSS preview while dragging, the server's rendering on release), and two
   taps measure a distance in millimetres from the pixel spacing (or say it is uncalibrated).
   Without this script the first frame of the first image still shows. */
(function () {
  "use strict";

  var PRESETS = { soft: [40, 400], bone: [500, 2000], lung: [-600, 1500] };

  function Viewer(root) {
    this.root = root;
    this.items = JSON.parse(document.getElementById(root.dataset.items).textContent);
    this.img = root.querySelector(".imaging-image");
    this.svg = root.querySelector(".imaging-overlay");
    this.readout = root.querySelector(".imaging-readout");
    this.failed = root.querySelector(".imaging-failed");
    this.cine = root.querySelector(".imaging-cine");
    this.wl = root.querySelector(".imaging-wl");
    this.slider = root.querySelector(".imaging-frame-slider");
    this.index = 0;
    this.frame = 0;
    this.timer = null;
    this.speed = 1;
    this.measuring = false;
    this.points = [];
    this.cache = {};
    this.window = null;
    this.bind();
    this.show(0);
  }

  Viewer.prototype.t = function (key) {
    return this.root.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key;
  };

  Viewer.prototype.item = function () {
    return this.items[this.index];
  };

  Viewer.prototype.url = function (frame, windowed) {
    var item = this.item();
    var url = item.frameUrl.replace("{frame}", String(frame)) + "?size=view";
    if (windowed && this.window) {
      url += "&wc=" + Math.round(this.window[0]) + "&ww=" + Math.max(1, Math.round(this.window[1]));
    } else if (windowed && this.autoWindow) {
      url += "&voi=auto";
    }
    return url;
  };

  Viewer.prototype.bind = function () {
    var self = this;
    this.root.querySelectorAll(".imaging-thumb").forEach(function (button) {
      button.addEventListener("click", function () {
        self.show(parseInt(button.dataset.index, 10));
      });
    });
    this.root.addEventListener("click", function (event) {
      var target = event.target.closest("[data-act]");
      if (!target || target.tagName === "SELECT" || target.tagName === "INPUT") return;
      var act = target.dataset.act;
      if (act === "prev") self.step(-1);
      if (act === "next") self.step(1);
      if (act === "play") self.toggle();
      if (act === "measure") self.toggleMeasure(target);
      if (act === "clear") self.clearMeasure();
      if (act === "header") self.header();
    });
    this.slider.addEventListener("input", function () {
      self.stop();
      self.go(parseInt(self.slider.value, 10) - 1);
    });
    this.root.querySelector("[data-act=speed]").addEventListener("change", function (e) {
      self.speed = parseFloat(e.target.value) || 1;
      if (self.timer) { self.stop(); self.toggle(); }
    });
    var preset = this.root.querySelector("[data-act=preset]");
    var center = this.root.querySelector("[data-act=center]");
    var width = this.root.querySelector("[data-act=width]");
    preset.addEventListener("change", function () {
      var item = self.item();
      self.autoWindow = preset.value === "auto";
      if (preset.value === "device") self.window = item.window.length ? item.window.slice() : null;
      else if (preset.value === "auto") self.window = null;
      else self.window = PRESETS[preset.value].slice();
      self.syncWindowInputs();
      self.img.style.filter = "";
      self.img.src = self.url(self.frame, true);
    });
    function preview() {
      // Instant feedback while dragging; the true rendering comes on release.
      var base = self.item().window.length ? self.item().window : [parseFloat(center.max) / 2, parseFloat(width.max) / 2];
      var contrast = base[1] / Math.max(1, parseFloat(width.value));
      var brightness = 1 + (base[0] - parseFloat(center.value)) / Math.max(1, base[1]);
      self.img.style.filter = "contrast(" + contrast.toFixed(2) + ") brightness(" + Math.max(0.1, brightness).toFixed(2) + ")";
      self.report();
    }
    function commit() {
      self.autoWindow = false;
      self.window = [parseFloat(center.value), parseFloat(width.value)];
      self.img.style.filter = "";
      self.img.src = self.url(self.frame, true);
      self.report();
    }
    [center, width].forEach(function (input) {
      input.addEventListener("input", preview);
      input.addEventListener("change", commit);
    });
    this.img.addEventListener("error", function () {
      self.failed.textContent = self.t("failed");
      self.failed.hidden = false;
    });
    this.img.addEventListener("load", function () {
      self.failed.hidden = true;
      self.drawMeasure();
    });
    var stage = this.root.querySelector(".imaging-stage");
    stage.addEventListener("click", function (event) {
      if (!self.measuring) return;
      var box = self.img.getBoundingClientRect();
      var x = event.clientX - box.left, y = event.clientY - box.top;
      if (x < 0 || y < 0 || x > box.width || y > box.height) return;
      if (self.points.length >= 2) self.points = [];
      self.points.push([x / box.width, y / box.height]);
      self.drawMeasure();
      self.report();
    });
    window.addEventListener("resize", function () { self.drawMeasure(); });
  };

  Viewer.prototype.syncWindowInputs = function () {
    var center = this.root.querySelector("[data-act=center]");
    var width = this.root.querySelector("[data-act=width]");
    var item = this.item();
    var base = this.window || item.window;
    var span = Math.max(4096, base && base.length ? Math.abs(base[0]) + base[1] * 2 : 4096);
    center.min = String(-span);
    center.max = String(span);
    width.min = "1";
    width.max = String(span * 2);
    if (base && base.length) {
      center.value = String(Math.round(base[0]));
      width.value = String(Math.round(base[1]));
    } else {
      center.value = "0";
      width.value = String(span);
    }
  };

  Viewer.prototype.show = function (index) {
    this.stop();
    this.index = index;
    this.frame = 0;
    this.points = [];
    var item = this.item();
    this.window = item.window.length ? item.window.slice() : null;
    this.autoWindow = false;
    this.root.querySelectorAll(".imaging-thumb").forEach(function (b, i) {
      b.classList.toggle("is-current", i === index);
      b.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    this.cine.hidden = item.frames < 2;
    this.wl.hidden = !item.grayscale;
    this.slider.max = String(item.frames);
    this.slider.value = "1";
    var preset = this.root.querySelector("[data-act=preset]");
    preset.value = item.window.length ? "device" : "auto";
    this.syncWindowInputs();
    this.img.src = this.url(0, false);
    if (item.frames > 1) this.preload();
    this.drawMeasure();
    this.report();
  };

  Viewer.prototype.preload = function () {
    // One frame after the other (not thirty requests at once over a village's network);
    // the cine plays what has arrived.
    var item = this.item();
    var key = item.id;
    if (this.cache[key]) return;
    var frames = [];
    this.cache[key] = frames;
    var self = this;
    function next(i) {
      if (i >= item.frames || self.cache[key] !== frames) return;
      var image = new Image();
      image.onload = image.onerror = function () { next(i + 1); };
      image.src = self.url(i, false);
      frames.push(image);
    }
    next(0);
  };

  Viewer.prototype.go = function (frame) {
    var item = this.item();
    this.frame = (frame + item.frames) % item.frames;
    var cached = this.cache[item.id];
    this.img.src = cached && cached[this.frame] ? cached[this.frame].src : this.url(this.frame, false);
    this.slider.value = String(this.frame + 1);
    this.report();
  };

  Viewer.prototype.step = function (delta) {
    this.stop();
    this.go(this.frame + delta);
  };

  Viewer.prototype.toggle = function () {
    var button = this.root.querySelector("[data-act=play]");
    if (this.timer) { this.stop(); return; }
    var self = this;
    var ms = Math.max(10, this.item().frameMs / this.speed);
    this.timer = window.setInterval(function () { self.go(self.frame + 1); }, ms);
    button.setAttribute("aria-pressed", "true");
    button.textContent = "❚❚";
  };

  Viewer.prototype.stop = function () {
    if (!this.timer) return;
    window.clearInterval(this.timer);
    this.timer = null;
    var button = this.root.querySelector("[data-act=play]");
    button.setAttribute("aria-pressed", "false");
    button.textContent = "▶";
  };

  Viewer.prototype.toggleMeasure = function (button) {
    this.measuring = !this.measuring;
    button.setAttribute("aria-pressed", this.measuring ? "true" : "false");
    this.root.querySelector(".imaging-stage").classList.toggle("is-measuring", this.measuring);
    this.report();
  };

  Viewer.prototype.clearMeasure = function () {
    this.points = [];
    this.drawMeasure();
    this.report();
  };

  Viewer.prototype.distance = function () {
    if (this.points.length < 2) return null;
    var item = this.item();
    var dx = (this.points[1][0] - this.points[0][0]) * item.columns;
    var dy = (this.points[1][1] - this.points[0][1]) * item.rows;
    if (item.spacing.length === 2) {
      // PixelSpacing is [row spacing (between rows, i.e. along y), column spacing (along x)]
      return { value: Math.sqrt(Math.pow(dx * item.spacing[1], 2) + Math.pow(dy * item.spacing[0], 2)), unit: "mm" };
    }
    return { value: Math.sqrt(dx * dx + dy * dy), unit: "px" };
  };

  Viewer.prototype.drawMeasure = function () {
    var svg = this.svg;
    var box = this.img.getBoundingClientRect();
    var stage = this.root.querySelector(".imaging-stage").getBoundingClientRect();
    svg.setAttribute("width", String(box.width));
    svg.setAttribute("height", String(box.height));
    svg.style.left = (box.left - stage.left) + "px";
    svg.style.top = (box.top - stage.top) + "px";
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var ns = "http://www.w3.org/2000/svg";
    var pts = this.points.map(function (p) { return [p[0] * box.width, p[1] * box.height]; });
    pts.forEach(function (p) {
      var c = document.createElementNS(ns, "circle");
      c.setAttribute("cx", p[0]); c.setAttribute("cy", p[1]); c.setAttribute("r", "5");
      svg.appendChild(c);
    });
    if (pts.length === 2) {
      var line = document.createElementNS(ns, "line");
      line.setAttribute("x1", pts[0][0]); line.setAttribute("y1", pts[0][1]);
      line.setAttribute("x2", pts[1][0]); line.setAttribute("y2", pts[1][1]);
      svg.appendChild(line);
      var d = this.distance();
      var label = document.createElementNS(ns, "text");
      label.setAttribute("x", (pts[0][0] + pts[1][0]) / 2 + 8);
      label.setAttribute("y", (pts[0][1] + pts[1][1]) / 2 - 8);
      label.textContent = d.value.toFixed(1) + " " + d.unit;
      svg.appendChild(label);
    }
  };

  Viewer.prototype.report = function () {
    var item = this.item();
    var parts = [];
    if (item.frames > 1) parts.push(this.t("frame") + " " + (this.frame + 1) + " / " + item.frames);
    if (item.grayscale) {
      var w = this.window;
      var center = this.root.querySelector("[data-act=center]");
      var width = this.root.querySelector("[data-act=width]");
      parts.push(this.t("window") + " " + (w ? Math.round(center.value) + " / " + Math.round(width.value) : "auto"));
    }
    var d = this.distance();
    if (d) {
      parts.push(d.value.toFixed(1) + " " + d.unit + (d.unit === "px" ? " (" + this.t("uncalibrated") + ")" : " · " + item.spacingSource));
    } else if (this.measuring) {
      parts.push(this.t("measureHint"));
    }
    this.readout.textContent = parts.join(" · ");
  };

  Viewer.prototype.header = function () {
    var dialog = this.root.querySelector(".imaging-header-dialog");
    var body = dialog.querySelector(".imaging-header-body");
    body.textContent = this.t("loading");
    if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
    fetch(this.item().headerUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { return r.text(); })
      .then(function (html) { body.innerHTML = html; });
  };

  function start() {
    document.querySelectorAll(".imaging-viewer[data-items]").forEach(function (root) {
      if (!root.dataset.started) {
        root.dataset.started = "1";
        root.viewer = new Viewer(root);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:afterSwap", start);
})();
