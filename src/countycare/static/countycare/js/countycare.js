/* CountyCare: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // A second tap on a submit button while the first request is on its way (weak networks)
  // would send the form twice: mark the form busy and ignore further submits. The server
  // recognises repeats anyway (one-time token), this only spares the network.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("hx-get") || form.hasAttribute("hx-post")) {
      return;
    }
    if (form.getAttribute("method") && form.getAttribute("method").toLowerCase() === "get") {
      return;
    }
    if (form.dataset.busy === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.busy = "true";
    // Disable after the browser has taken the submitter's name/value into the form data.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
        b.disabled = true;
        b.classList.add("is-busy");
      });
    }, 0);
  });

  // Coming back with the browser's back button shows the page from its cache: make the
  // forms usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-busy=true]").forEach(function (form) {
      delete form.dataset.busy;
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
        b.disabled = b.hasAttribute("aria-pressed") && b.getAttribute("aria-pressed") === "true";
        b.classList.remove("is-busy");
      });
    });
  });

  // Close the user menu when tapping elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.usermenu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });

  // htmx: show a message instead of silence when the network fails.
  document.addEventListener("htmx:sendError", function () {
    var results = document.getElementById("results");
    if (results) {
      results.setAttribute("data-error", "network");
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "results") {
      event.detail.target.removeAttribute("data-error");
    }
  });
})();
