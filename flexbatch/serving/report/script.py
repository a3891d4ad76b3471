"""The page's only script, inline and constant (no data in it, so nothing to escape): the
time-range switch and the CSV download of the rows shown. Without script the page still
reads whole, at the range the report was written with."""

from __future__ import annotations

# The range switch sets <main data-range>, marks its button, and hides the dated rows
# (tr[data-date]) before the range's first day. The CSV is built from the itemised rows
# left visible: exact values as printed, UTC days, text cells starting with = + - @ TAB
# CR LF prefixed with ' (SPEC §2, as `flexbatch export`), numbers kept as they are.
SCRIPT = r"""
(function () {
  var main = document.querySelector("main");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("[data-range-key]"));
  function rangeFrom(key) {
    var b = buttons.filter(function (x) { return x.getAttribute("data-range-key") === key; })[0];
    return b ? b.getAttribute("data-from") : "";
  }
  function show(key) {
    var from = rangeFrom(key);
    main.setAttribute("data-range", key);
    buttons.forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-range-key") === key ? "true" : "false");
    });
    document.querySelectorAll("tr[data-date]").forEach(function (row) {
      row.hidden = row.getAttribute("data-date") < from;
    });
    var shown = document.querySelectorAll(".items-table tbody tr:not([hidden])").length;
    document.querySelectorAll(".items .shown").forEach(function (s) {
      s.textContent = String(shown);
    });
  }
  function cell(text, numeric) {
    if (!numeric && /^[=+\-@\t\r\n]/.test(text)) { text = "'" + text; }
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function csv() {
    var account = main.getAttribute("data-account") || "";
    var heads = Array.prototype.slice.call(document.querySelectorAll(".items-table th"));
    var numeric = heads.map(function (h) { return h.classList.contains("num"); });
    var lines = [["account_id"].concat(heads.map(function (h) {
      return h.getAttribute("data-csv");
    })).join(",")];
    document.querySelectorAll(".items-table tbody tr:not([hidden])").forEach(function (row) {
      var cells = Array.prototype.slice.call(row.children).map(function (td, i) {
        return cell(td.textContent, numeric[i]);
      });
      lines.push([cell(account, false)].concat(cells).join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  window.flexbatchCsv = csv;
  window.flexbatchShow = show;
  buttons.forEach(function (b) {
    b.addEventListener("click", function () { show(b.getAttribute("data-range-key")); });
  });
  var csvButton = document.getElementById("csv");
  if (csvButton) {
    csvButton.addEventListener("click", function () {
      var key = main.getAttribute("data-range");
      var name = (main.getAttribute("data-account") || "account").replace(/[^A-Za-z0-9_-]+/g, "-");
      var link = document.createElement("a");
      var blob = new Blob([csv()], { type: "text/csv" });  // in memory: no request
      link.href = URL.createObjectURL(blob);
      link.download = "flexbatch-" + name + "-" + rangeFrom(key) + "-to-" +
        main.getAttribute("data-as-of") + "-utc.csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }
  var printButton = document.getElementById("print");
  if (printButton) { printButton.addEventListener("click", function () { window.print(); }); }
  window.addEventListener("beforeprint", function () {  // print the itemised rows too
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  show(main.getAttribute("data-range"));
})();
"""

RANGE_KEYS = ("1m", "3m", "6m", "12m", "all", "custom")


def range_css(keys: list[str]) -> str:
    """Show the range-dependent blocks of the range <main data-range> names only."""
    rules = [f'main[data-range="{k}"] .r-{k}{{display:block}}' for k in keys if k in RANGE_KEYS]
    return ".r{display:none}" + "".join(rules) if rules else ""
