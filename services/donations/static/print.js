// A button marked data-print prints the page (no inline handlers: the pages' policy allows
// scripts from the site only).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-print]");
  if (button) { window.print(); }
});
