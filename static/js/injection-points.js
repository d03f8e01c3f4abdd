// Injection form: live total of the units, a warning as soon as a point or the total passes the
// study's ceiling, and "More rows" adds a row in place instead of submitting. Without this script
// the form works the same, by submit; the server refuses a dose above a ceiling either way.
(function () {
  "use strict";
  var table = document.querySelector("[data-points]");
  if (!table) return;
  var body = table.querySelector("tbody");
  var output = document.getElementById("points-total");
  var totalForms = document.getElementById("id_points-TOTAL_FORMS");
  var maxForms = document.getElementById("id_points-MAX_NUM_FORMS");
  var template = document.getElementById("point-row-template");
  var addButton = document.querySelector("[data-add-row]");

  var ceilingWarning = document.getElementById("points-ceiling-warning");
  var maxPerPoint = parseFloat(table.getAttribute("data-max-units-per-point"));
  var maxPerSession = parseFloat(table.getAttribute("data-max-units-per-session"));

  // warn: false on the first render, where the server has already said what it refused (its
  // checks run with every save), so that a ceiling is stated once.
  function updateTotal(warn) {
    var hundredths = 0;
    var warnings = [];
    body.querySelectorAll('input[name$="-units"]').forEach(function (input, index) {
      var value = parseFloat(input.value);
      // Sum in hundredths of a unit so that 2.1 + 0.2 shows 2.3, not 2.3000000000000003.
      if (!isNaN(value) && value > 0) hundredths += Math.round(value * 100);
      var over = !isNaN(value) && value > maxPerPoint;
      input.classList.toggle("over-ceiling", over);
      if (over) {
        warnings.push("Point " + (index + 1) + ": " + value + " U is above this study's ceiling of " +
          maxPerPoint + " U per point.");
      }
    });
    var total = hundredths / 100;
    output.textContent = String(total);
    if (total > maxPerSession) {
      warnings.push("Total " + total + " U is above this study's ceiling of " + maxPerSession +
        " U per session.");
    }
    if (ceilingWarning && warn !== false) {
      ceilingWarning.textContent = warnings.join(" ");
      ceilingWarning.hidden = warnings.length === 0;
    }
  }

  function addRow(event) {
    event.preventDefault();
    var index = parseInt(totalForms.value, 10);
    if (maxForms && index >= parseInt(maxForms.value, 10)) return;
    var html = template.innerHTML.replace(/__prefix__/g, String(index)).replace(/__number__/g, String(index + 1));
    body.insertAdjacentHTML("beforeend", html);
    totalForms.value = String(index + 1);
    var first = body.lastElementChild.querySelector("select, input");
    if (first) first.focus();
  }

  body.addEventListener("input", updateTotal);
  body.addEventListener("change", updateTotal);
  if (addButton && template && totalForms) {
    addButton.textContent = "Add a row";
    addButton.addEventListener("click", addRow);
  }
  updateTotal(false);
})();
