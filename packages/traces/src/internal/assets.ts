/**
 * The page's only assets, served by the traces server itself (no CDN: machines here have no
 * internet): `css` (layout, waterfall bars, colours chosen to pass WCAG AA contrast) and `script`
 * (opening a step's details, arrow-key navigation between steps, and live updates over SSE that
 * re-fetch the page's content, keep open details and focus, and wait while the filters are in use).
 * Gotcha: the script is plain ES2020 in a string, not compiled; keep it small and test it through
 * the browser tests.
 */

/** The stylesheet (`/assets/app.css`). */
export const css = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #4a5563; --bg: #ffffff; --line: #d0d7de;
  --ok: #116329; --ok-bg: #dafbe1; --error: #a40e26; --error-bg: #ffebe9; --warn: #7d4e00; --warn-bg: #fff8c5;
  --info: #0550ae; --info-bg: #ddf4ff; --running: #0550ae; --wait: #6b3a00; --wait-bg: #fff1e5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--info); }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.top { padding: 10px 20px; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; color: var(--fg); text-decoration: none; }
main { padding: 16px 20px; max-width: 1200px; }
h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 16px 0 4px; } h3 { font-size: 13px; margin: 10px 0 4px; }
.filters { display: flex; gap: 12px; align-items: end; flex-wrap: wrap; margin-bottom: 8px; }
.field { display: flex; flex-direction: column; gap: 2px; }
label { font-weight: 600; font-size: 12px; }
select, input, button { font: inherit; padding: 4px 8px; border: 1px solid #6e7781; border-radius: 4px; background: #fff; color: var(--fg); }
button[type=submit] { background: var(--info); color: #fff; border-color: var(--info); }
:focus-visible { outline: 3px solid #0969da; outline-offset: 1px; }
.count { color: var(--muted); margin: 4px 0; }
table.runs { border-collapse: collapse; width: 100%; }
.runs th, .runs td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
.runs td.num { text-align: right; font-variant-numeric: tabular-nums; }
.reason, .badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; }
.tone-ok { color: var(--ok); background: var(--ok-bg); } .tone-error { color: var(--error); background: var(--error-bg); }
.tone-warn { color: var(--warn); background: var(--warn-bg); } .tone-info, .tone-running { color: var(--info); background: var(--info-bg); }
.tone-wait { color: var(--wait); background: var(--wait-bg); } .tone-muted { color: var(--muted); background: #eaeef2; }
.summary { display: flex; flex-wrap: wrap; gap: 16px; margin: 0 0 8px; }
.summary div { display: flex; flex-direction: column; } .summary dt { font-size: 12px; color: var(--muted); } .summary dd { margin: 0; font-weight: 600; }
.hint { color: var(--muted); margin: 0 0 8px; }
.waterfall { list-style: none; margin: 0; padding: 0; border-top: 1px solid var(--line); }
.row { border-bottom: 1px solid var(--line); }
.step { all: unset; box-sizing: border-box; display: grid; grid-template-columns: minmax(200px, 26%) 210px minmax(120px, 1fr) 36%; gap: 8px;
  align-items: center; width: 100%; padding: 5px 8px 5px calc(8px + var(--depth, 0) * 18px); cursor: pointer; }
.step:hover { background: #f6f8fa; } .step[aria-expanded=true] { background: #eef4fb; }
.step:focus-visible { outline: 3px solid #0969da; outline-offset: -3px; }
.name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.kind-model .name::before { content: "◆ "; color: #6639ba; } .kind-tool .name::before { content: "⚙ "; color: #116329; }
.kind-agent .name::before { content: "▶ "; color: #0550ae; }
.timing { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 12px; }
.track { position: relative; height: 14px; background: #f6f8fa; border-radius: 3px; }
.bar { position: absolute; top: 2px; height: 10px; border-radius: 3px; overflow: hidden; }
.bar-agent { background: #54aeff; } .bar-model { background: #8250df; } .bar-tool { background: #2da44e; }
.bar-error { background: #cf222e; } .bar-running { background: #54aeff; animation: pulse 1s infinite alternate; } .bar-other { background: #8c959f; }
.ttft { display: block; height: 100%; background: rgba(0, 0, 0, 0.35); }
@keyframes pulse { from { opacity: 1; } to { opacity: .55; } }
@media (prefers-reduced-motion: reduce) { .bar-running { animation: none; } }
.details { padding: 8px 16px 12px calc(16px + var(--depth, 0) * 18px); background: #fbfcfd; border-top: 1px dashed var(--line); }
.details pre { background: #f6f8fa; padding: 8px; border-radius: 4px; max-height: 320px; overflow: auto; white-space: pre-wrap; word-break: break-word; }
.facts, .attributes { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
.facts dt, .attributes dt { color: var(--muted); } .facts dd, .attributes dd { margin: 0; word-break: break-word; }
.error { color: var(--error); } .note { color: var(--muted); }
.approval { margin: 0; padding: 6px 8px; color: var(--wait); background: var(--wait-bg); font-weight: 600; }
.kind-approval .track { margin: 0 8px 6px; } .bar-wait { background: var(--wait); opacity: .5; }
.events { margin: 0; padding-left: 18px; }
`

/** The page script (`/assets/app.js`). */
export const script = `"use strict";
(function () {
  var main = document.getElementById("main");
  if (!main) return;
  function steps() { return Array.prototype.slice.call(main.querySelectorAll("button.step")); }
  function toggle(button) {
    var panel = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (panel) panel.hidden = !open;
  }
  main.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.step");
    if (button) toggle(button);
  });
  main.addEventListener("keydown", function (event) {
    var button = event.target.closest && event.target.closest("button.step");
    if (!button) return;
    var all = steps(), index = all.indexOf(button), next = -1;
    if (event.key === "ArrowDown") next = Math.min(all.length - 1, index + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, index - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = all.length - 1;
    if (next >= 0) { event.preventDefault(); all[next].focus(); }
  });
  var live = main.getAttribute("data-live") || "none";
  if (live === "none" || typeof EventSource === "undefined") return;
  var busy = false, again = false, skipped = false;
  function typing() {
    var active = document.activeElement;
    return !!(active && active.closest && active.closest("form.filters"));
  }
  // never swap the content under someone using the filters: catch up when they leave the form
  main.addEventListener("focusout", function () {
    setTimeout(function () { if (skipped && !typing()) { skipped = false; refresh(); } }, 0);
  });
  function refresh() {
    if (typing()) { skipped = true; return; }
    if (busy) { again = true; return; }
    busy = true;
    var url = new URL(location.href);
    url.searchParams.set("fragment", "1");
    fetch(url.toString(), { cache: "no-store" }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html === null) return;
      if (typing()) { skipped = true; return; }
      var open = steps().filter(function (b) { return b.getAttribute("aria-expanded") === "true"; }).map(function (b) { return b.id; });
      var focused = document.activeElement && document.activeElement.id;
      main.innerHTML = html;
      open.forEach(function (id) { var b = document.getElementById(id); if (b) toggle(b); });
      if (focused) { var f = document.getElementById(focused); if (f) f.focus(); }
      main.setAttribute("data-updated", String(Date.now()));
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }
  var source = new EventSource("/events");
  source.addEventListener("change", refresh);
})();
`
