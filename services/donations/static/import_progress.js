// An import's result page while it records (templates/donations/import_result.html): ask for the
// next rows (POST .../continue, with the page's CSRF token) until none is left, moving the progress
// bar, then show the result. Without this script the page's button does the same, a click a chunk.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  var form = document.getElementById("continue-form");
  var bar = document.getElementById("import-bar");
  if (!box || !form || !bar || box.getAttribute("data-status") !== "recording" || !window.fetch) { return; }
  var label = box.querySelector("label[for=import-bar]");
  var button = document.getElementById("continue");
  var hint = document.getElementById("continue-hint");
  // (a button's own display rule outranks the hidden attribute)
  function show(shown) { button.style.display = hint.style.display = shown ? "" : "none"; }
  show(false);

  function step() {
    fetch(box.getAttribute("data-continue"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (answer) {
      if (!answer.ok) { throw new Error(String(answer.status)); }
      return answer.json();
    }).then(function (progress) {
      bar.value = progress.percent;
      bar.textContent = progress.percent + "%";
      if (label) {
        label.textContent = label.textContent.replace(/\d+(\D+)\d+/, (progress.to_record - progress.pending) + "$1" +
                                                      progress.to_record);
      }
      if (progress.status === "recording") { step(); } else { window.location.reload(); }
    }).catch(function () {
      show(true);  // let the person go on by hand
    });
  }
  step();
}());
