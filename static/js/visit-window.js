// Visit form: state the chosen visit's target date and window as soon as it is chosen, and warn
// beside the date when it falls outside. The server states the same on the first render (its
// warning, or its out-of-window error, beside the date) and refuses an out-of-window date without
// a protocol-deviation reason; this only says it sooner, in the same element, so it shows once.
(function () {
  "use strict";
  var select = document.querySelector("select[data-visit-window]");
  var date = document.getElementById("id_date_performed");
  if (!select) return;
  var help = document.getElementById(select.id + "_helptext");
  if (!help) {
    help = document.createElement("small");
    help.className = "help";
    help.id = select.id + "_helptext";
    select.insertAdjacentElement("afterend", help);
  }
  help.setAttribute("aria-live", "polite");
  var warning = document.getElementById("id_date_performed_warning");
  if (!warning) {
    warning = document.createElement("p");
    warning.className = "warning";
    warning.id = "id_date_performed_warning";
    warning.setAttribute("role", "status");
    warning.hidden = true;
    if (date) date.parentNode.appendChild(warning);
  }

  function serverErrors() {
    return date ? date.parentNode.querySelectorAll("p.error") : [];
  }

  function update() {
    var option = select.options[select.selectedIndex];
    var text = option && option.getAttribute("data-window-text");
    help.textContent = text || "Choose a visit to see its target date and window.";
    warning.hidden = true;
    if (!text || !date || !date.value) return;
    // ISO dates compare correctly as strings.
    var earliest = option.getAttribute("data-earliest");
    var latest = option.getAttribute("data-latest");
    if (date.value < earliest || date.value > latest) {
      warning.textContent = date.value + " is outside this visit's window (" + earliest + " to " + latest +
        "): saving needs a protocol-deviation reason.";
      warning.hidden = false;
    }
  }

  function changed() {
    // The server's errors beside the date were about the value before this change; the server
    // checks the new one again on save.
    serverErrors().forEach(function (error) { error.hidden = true; });
    update();
  }

  select.addEventListener("change", changed);
  if (date) {
    date.addEventListener("change", changed);
    date.addEventListener("input", changed);
  }
  // On the first render the server has said it already: repeat nothing beside a refused date.
  if (serverErrors().length) {
    var option = select.options[select.selectedIndex];
    help.textContent = (option && option.getAttribute("data-window-text")) || help.textContent;
  } else {
    update();
  }
})();
