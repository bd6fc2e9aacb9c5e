/* Walking Hospital pages: BMI shown while typing height and weight; phrase buttons that
   insert text into the reader's findings / impression. The pages work without this file
   (the server computes BMI; phrases can be typed). */
(function () {
  "use strict";

  function number(input) {
    if (!input) return NaN;
    return parseFloat(String(input.value).replace(",", ".").trim());
  }

  var height = document.getElementById("id_height");
  var weight = document.getElementById("id_weight");
  var bmi = document.getElementById("id_bmi");
  function updateBmi() {
    var h = number(height), w = number(weight);
    if (h > 30 && w > 0) {
      var m = h / 100;
      bmi.value = (w / (m * m)).toFixed(1);
    } else {
      bmi.value = "";
    }
  }
  if (height && weight && bmi) {
    height.addEventListener("input", updateBmi);
    weight.addEventListener("input", updateBmi);
    updateBmi();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.phrase") : null;
    if (!button) return;
    var box = button.closest(".phrases");
    var target = box && document.getElementById(box.dataset.target);
    if (!target) return;
    var text = button.dataset.text || button.textContent;
    var start = target.selectionStart, end = target.selectionEnd, value = target.value;
    if (typeof start !== "number" || document.activeElement !== target && start === 0 && end === 0) {
      start = end = value.length;
    }
    var before = value.slice(0, start), after = value.slice(end);
    var sep = before && !/[\s，。；、,;]$/.test(before) ? "，" : "";
    target.value = before + sep + text + after;
    var caret = (before + sep + text).length;
    target.focus();
    target.setSelectionRange(caret, caret);
    target.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
