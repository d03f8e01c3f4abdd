// Live scoring status and drag-and-drop for photo uploads. Everything works without this file.
(function () {
  "use strict";

  // Poll the status of photos still waiting or scoring; reload once any of them finishes,
  // so that thumbnails, overlays and measurements appear without a manual refresh.
  // Polling stops after ten minutes: every poll is a request, and a page left open on a shared
  // workstation must not keep its session from ending after SESSION_IDLE_MINUTES.
  var POLL_FOR_MS = 10 * 60 * 1000;
  var pollUntil = Date.now() + POLL_FOR_MS;

  function pollStatus() {
    if (Date.now() > pollUntil) return;
    var badges = document.querySelectorAll("[data-photo-status]");
    var waiting = [];
    badges.forEach(function (b) {
      var text = b.className;
      if (text.indexOf("badge-pending") >= 0 || text.indexOf("badge-processing") >= 0) {
        waiting.push(b.getAttribute("data-photo-status"));
      }
    });
    if (!waiting.length) return;
    fetch("/photos/status/?ids=" + waiting.join(","), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (data) {
        var finished = false;
        Object.keys(data).forEach(function (id) {
          var item = data[id];
          document.querySelectorAll('[data-photo-status="' + id + '"]').forEach(function (b) {
            b.textContent = item.label;
            b.className = "badge badge-" + item.status;
          });
          if (item.status === "scored" || item.status === "failed") finished = true;
        });
        if (finished) {
          window.location.reload();
        } else {
          window.setTimeout(pollStatus, 2000);
        }
      })
      .catch(function () { window.setTimeout(pollStatus, 5000); });
  }

  // Dropped files go to the expression their name mentions, else to the first empty input.
  function setupDropzone(form) {
    var hint = form.querySelector(".dropzone-hint");
    if (hint) hint.hidden = false;
    var inputs = Array.prototype.slice.call(form.querySelectorAll('input[type="file"]'));
    function inputFor(file) {
      var name = file.name.toLowerCase().replace(/[^a-z]/g, "_");
      var byName = inputs.filter(function (i) {
        var key = (i.getAttribute("data-expression") || i.name.replace(/^photo_/, "")).toLowerCase();
        return !i.files.length && name.indexOf(key) >= 0;
      });
      if (byName.length) return byName[0];
      return inputs.filter(function (i) { return !i.files.length; })[0];
    }
    form.addEventListener("dragover", function (e) { e.preventDefault(); form.classList.add("dragging"); });
    form.addEventListener("dragleave", function () { form.classList.remove("dragging"); });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      form.classList.remove("dragging");
      Array.prototype.forEach.call(e.dataTransfer.files, function (file) {
        var input = inputFor(file);
        if (!input) return;
        var dt = new DataTransfer();
        dt.items.add(file);
        input.files = dt.files;
        input.dispatchEvent(new Event("change"));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-dropzone]").forEach(setupDropzone);
    window.setTimeout(pollStatus, 1500);
  });
})();
