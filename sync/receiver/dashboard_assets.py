"""The dashboard's own style sheet and script, served from the receiver (nothing from outside).

The script only polls the campaign's JSON (same origin) and writes numbers with
``textContent``; it never builds HTML, so no text from outside is ever parsed as markup.
"""

from __future__ import annotations

from sync.reconcile_html import CATEGORY_CSS

__all__ = ["ICON_SVG", "LIVE_JS", "STYLE_CSS"]

ICON_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
            '<rect width="16" height="16" rx="3" fill="#2f8f46"/>'
            '<path d="M4 8.5l3 3 5-6" stroke="#fff" stroke-width="2" fill="none"/></svg>')
"""The page icon (a browser asks for one; without it, every page logs a failed load)."""

STYLE_CSS = CATEGORY_CSS + """
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2228;
max-width:1200px}
nav{margin:0 0 12px}nav a{color:#1f6fb2}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #d5dae0;
padding-bottom:4px}
a{color:#1f6fb2}.meta{color:#59636e;margin:0 0 12px}.big{font-size:17px}
progress{width:180px;height:14px;vertical-align:middle;accent-color:#2f8f46}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid #e3e6ea}
th{background:#f3f5f7;font-weight:600}
.n{font-variant-numeric:tabular-nums}
.live{color:#c77700;font-weight:600}.look{color:#c62828;font-weight:600}
.sightings{margin:0;padding-left:16px}.muted{color:#7b8691}
code{font-family:ui-monospace,Consolas,monospace;font-size:13px;overflow-wrap:anywhere}
"""

LIVE_JS = """"use strict";
(function () {
  var body = document.body;
  var url = body.getAttribute("data-poll");
  var every = Number(body.getAttribute("data-poll-ms")) || 5000;
  if (!url) { return; }
  function set(key, value) {
    var nodes = document.querySelectorAll("[data-k='" + key + "']");
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = String(value); }
  }
  function bar(key, value, max) {
    var node = document.querySelector("[data-bar='" + key + "']");
    if (node) { node.max = Math.max(max, 1); node.value = value; }
  }
  function apply(data) {
    var rows = document.querySelectorAll("[data-k$='-status']");
    if (rows.length !== data.rooms.length) { window.location.reload(); return; }
    set("audited", data.progress.audited);
    set("rooms", data.progress.rooms);
    bar("rooms", data.progress.audited, data.progress.rooms);
    set("found", data.counts.found);
    set("expected", data.expected);
    Object.keys(data.counts).forEach(function (c) { set("count-" + c, data.counts[c]); });
    data.rooms.forEach(function (room, i) {
      set("room-" + i + "-status", room.status_text);
      set("room-" + i + "-found", room.found);
      set("room-" + i + "-expected", room.expected);
      bar("room-" + i, room.found, room.expected);
    });
    set("updated", data.generated_at_text);
  }
  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store",
                headers: {"Accept": "application/json"}})
      .then(function (answer) {
        if (!answer.ok) { throw new Error("HTTP " + answer.status); }
        return answer.json();
      })
      .then(apply, function () { set("updated", "not updated: the register did not answer"); })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
"""
