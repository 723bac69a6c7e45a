// A form marked data-once is sent once: a second click while the page is leaving does nothing and
// the button is disabled. The server refuses a second copy anyway (households/once.py); this only
// spares the user the message. A file, not an inline handler: the CSP allows no inline script.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
  if (form.dataset.sent) {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  setTimeout(function () {
    form.querySelectorAll("[type=submit]").forEach(function (button) { button.disabled = true; });
  }, 0);
});
