// The donation form's goods (templates/donations/donation_new.html): shown, and required, only
// when the channel is a gift in kind; their total (quantity x unit price, rounded half-up to the
// fen) shown as they are typed, and put in the amount while the amount is empty or holds the
// total put there before. The server checks all of it again; without this script the goods are
// always shown and an empty amount is taken as their total. Words come from data attributes.
(function () {
  "use strict";
  var box = document.getElementById("goods");
  var form = box && box.closest("form");
  var channel = form && form.querySelector("[name=channel]");
  var amount = form && form.querySelector("[name=amount]");
  if (!channel || !amount) { return; }
  var quantity = box.querySelector("[name=goods_quantity]");
  var unitPrice = box.querySelector("[name=goods_unit_price]");
  var inputs = box.querySelectorAll("input");
  var total = document.getElementById("goods-total");
  var filled = null;  // the amount this script put in, if it is still there

  // Full-width digits and signs as ASCII, spaces gone.
  function plain(text) {
    return String(text || "")
      .replace(/[\uFF10-\uFF19]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/\uFF0E/g, ".").replace(/\uFF0C/g, ",").replace(/\s/g, "");
  }

  // A number typed with at most `places` decimals, as [integer, scale]: exact, no floats.
  function exact(text, places) {
    var match = /^((?:\d{1,3}(?:,\d{3})+)|\d*)(?:\.(\d*))?$/.exec(plain(text).replace(/^[\u00A5\uFFE5]/, "").replace(/\u5143$/, ""));
    if (!match || !(match[1] || match[2])) { return null; }
    var decimals = (match[2] || "").replace(/0+$/, "");
    if (decimals.length > places) { return null; }
    var digits = (match[1] || "0").replace(/,/g, "") + decimals;
    if (digits.length > 15) { return null; }
    return [parseInt(digits, 10), decimals.length];
  }

  function yuan(fen) {
    var units = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return "\u00A5" + units + "." + String(fen % 100).padStart(2, "0");
  }

  // quantity x unit price in fen, rounded half-up; null unless both are read.
  function worth() {
    var q = exact(quantity.value, 3), p = exact(unitPrice.value, 2);
    if (!q || !p || q[0] === 0 || p[0] === 0) { return null; }
    var priceFen = p[0] * Math.pow(10, 2 - p[1]);
    var scale = Math.pow(10, q[1]);
    var product = q[0] * priceFen;  // fen x 10^scale
    if (!Number.isSafeInteger(product)) { return null; }
    return Math.floor((product + scale / 2) / scale);
  }

  function update() {
    var inKind = channel.value === "in_kind";
    box.hidden = !inKind;
    Array.prototype.forEach.call(inputs, function (input) {
      input.required = inKind;
      input.setAttribute("aria-required", inKind ? "true" : "false");
    });
    var fen = inKind ? worth() : null;
    total.textContent = fen === null ? "" : box.getAttribute("data-total").replace("{total}", yuan(fen));
    if (fen !== null && (amount.value.trim() === "" || amount.value === filled)) {
      filled = Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
      amount.value = filled;
    }
  }

  channel.addEventListener("change", update);
  [quantity, unitPrice].forEach(function (input) { input.addEventListener("input", update); });
  amount.addEventListener("input", function () { if (amount.value !== filled) { filled = null; } });
  update();
}());
