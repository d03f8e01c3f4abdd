// Scale form: show the subscores and the total while the items are filled in. The formulas are
// those of patients/grading (sunnybrook.py, eface.py; docs/grading.md); the server computes the
// stored scores again on save, so without JavaScript nothing is lost but the live display.
(function () {
  "use strict";
  var form = document.querySelector("form[data-scale]");
  if (!form) return;
  var scale = form.getAttribute("data-scale");
  var SUNNYBROOK_WEIGHTS = { rest: 5, movement: 4, synkinesis: 1 };

  // Each item's score, or null when unanswered or out of range, grouped by domain.
  function itemScores() {
    var domains = {};
    var seen = {};
    form.querySelectorAll("[data-item]").forEach(function (input) {
      var code = input.getAttribute("data-item");
      var domain = input.getAttribute("data-domain");
      domains[domain] = domains[domain] || {};
      if (!(code in domains[domain])) domains[domain][code] = null;
      if (input.type === "radio") {
        if (input.checked) domains[domain][code] = Number(input.getAttribute("data-points"));
        return;
      }
      if (seen[code]) return;
      seen[code] = true;
      var value = input.value.trim() === "" ? NaN : Number(input.value);
      var min = Number(input.min), max = Number(input.max);
      if (isNaN(value) || value < min || value > max) return;
      var fold = input.getAttribute("data-fold");
      domains[domain][code] = fold ? Number(fold) - Math.abs(value - Number(fold)) : value;
    });
    return domains;
  }

  function values(items) {
    var list = Object.keys(items).map(function (k) { return items[k]; });
    return list.some(function (v) { return v === null; }) ? null : list;
  }
  function sum(list) { return list.reduce(function (a, b) { return a + b; }, 0); }

  function compute() {
    var domains = itemScores();
    var scores = {};
    if (scale === "sunnybrook") {
      Object.keys(SUNNYBROOK_WEIGHTS).forEach(function (d) {
        var list = values(domains[d] || {});
        scores[d] = list === null ? null : SUNNYBROOK_WEIGHTS[d] * sum(list);
      });
      scores.composite = [scores.rest, scores.movement, scores.synkinesis].some(function (v) { return v === null; })
        ? null : scores.movement - scores.rest - scores.synkinesis;
    } else {
      var all = [];
      var complete = true;
      Object.keys(domains).forEach(function (d) {
        var list = values(domains[d]);
        scores[d] = list === null ? null : sum(list) / list.length;
        if (list === null) complete = false; else all = all.concat(list);
      });
      scores.total = complete ? sum(all) / all.length : null;
    }
    form.querySelectorAll("output[data-score]").forEach(function (out) {
      var v = scores[out.getAttribute("data-score")];
      out.textContent = v === null || v === undefined ? "—" : String(Math.round(v * 10) / 10);
    });
  }
  form.addEventListener("input", compute);
  form.addEventListener("change", compute);
  compute();
})();
