// The disbursement request's hint (templates/donations/_available_cash.html): as the fund and the
// amount are typed, the fund's cash available to pay is shown (donated goods are not cash), and an
// amount beyond it is flagged before the form is sent; the server refuses such a request too. The
// figures and the words come from the hint's data attributes: the pages run no inline script.
(function () {
  "use strict";
  var hint = document.getElementById("available-cash");
  var form = hint && hint.closest("form");
  var fund = form && form.querySelector("[name=fund_code]");
  var amount = form && form.querySelector("[name=amount]");
  if (!fund || !amount) { return; }
  var funds = JSON.parse(hint.getAttribute("data-funds") || "{}");
  var shown = hint.querySelector("[data-cash-text]");
  var warning = hint.querySelector("[data-cash-warning]");

  // The amount typed, in fen (full-width digits, ¥ and thousands separators allowed); null if none.
  function fen(text) {
    var plain = String(text || "")
      .replace(/[\uFF10-\uFF19]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/\uFF0E/g, ".")
      .replace(/[\u00A5\uFFE5,\uFF0C\s]/g, "");
    var match = /^(\d{1,12})(?:\.(\d{0,2}))?$/.exec(plain);
    if (!match) { return null; }
    return parseInt(match[1], 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
  }

  function update() {
    var code = fund.value.trim().toUpperCase();
    var found = Object.prototype.hasOwnProperty.call(funds, code) ? funds[code] : null;
    hint.hidden = !code;
    if (!code) { return; }
    shown.textContent = found ? hint.getAttribute("data-text").replace("{cash}", found.shown)
                              : hint.getAttribute("data-unknown");
    var asked = fen(amount.value);
    var over = asked !== null && asked > (found ? found.fen : 0);
    warning.hidden = !over;
    warning.textContent = over && found ? hint.getAttribute("data-over").replace("{cash}", found.shown) : "";
    if (over && !found) { warning.hidden = true; }
  }

  fund.addEventListener("input", update);
  fund.addEventListener("change", update);
  amount.addEventListener("input", update);
  update();
}());
