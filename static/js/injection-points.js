// Injection form: live total of the units, and "More rows" adds a row in place
// instead of submitting. Without this script the form works the same, by submit.
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

  function updateTotal() {
    var hundredths = 0;
    body.querySelectorAll('input[name$="-units"]').forEach(function (input) {
      var value = parseFloat(input.value);
      // Sum in hundredths of a unit so that 2.1 + 0.2 shows 2.3, not 2.3000000000000003.
      if (!isNaN(value) && value > 0) hundredths += Math.round(value * 100);
    });
    output.textContent = String(hundredths / 100);
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
  updateTotal();
})();
