"""``report.html``: one self-contained static page (no network needed, nothing fetched).

The page holds the leaderboard data as JSON in a ``<script type="application/json">`` block and
one inline script that builds every table with DOM calls: text goes in through ``textContent``,
never as markup, so a model output holding ``<script>`` or ``<img onerror=...>`` is shown, not run.
A Content-Security-Policy allows only that one script (by its hash), inline styles and nothing
else: no request can leave the page even if something slipped through.

Model outputs and references (patient text) are in the page only when asked for
(``--medhelm-include-text``); otherwise the drill-down shows each instance's scores alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import TYPE_CHECKING, Any

from pytest_medhelm.leaderboard.build import OVERALL
from pytest_medhelm.leaderboard.markdown import not_significant_vs_best, ranked_models
from pytest_medhelm.leaderboard.status import banner, state_label

if TYPE_CHECKING:
    from pytest_medhelm.results import ResultsFile

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th.sortable { cursor: pointer; user-select: none; background: #f3f3f3; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
.ci { color: #666; font-size: 85%; }
.ns { color: #a60; }
button.bench { border: none; background: none; color: #0645ad; cursor: pointer; padding: 0; font: inherit; }
pre.text { white-space: pre-wrap; max-width: 40em; max-height: 12em; overflow: auto; margin: 0; text-align: left; }
#drilldown { border-top: 2px solid #888; }
.note { color: #555; }
#run-status { border: 2px solid #b00; background: #fdecea; color: #700; padding: .6em 1em; font-weight: bold; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("medhelm-data").textContent);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const fmt = (v, d) => (v === null || v === undefined) ? "-" : Number(v).toFixed(d === undefined ? 3 : d);
  const ci = (iv) => iv ? " [" + fmt(iv[0], 2) + ", " + fmt(iv[1], 2) + "]" : "";
  const cell = (value, interval, extra) => { const td = el("td"); td.append(el("span", fmt(value))); if (extra) td.append(el("span", extra, "ns")); if (interval) td.append(el("span", ci(interval), "ci")); td.dataset.value = value === null || value === undefined ? "" : value; return td; };

  document.getElementById("meta").textContent = data.meta;

  // Leaderboard, sortable by any column.
  const board = document.getElementById("leaderboard");
  const head = el("tr");
  data.columns.forEach((name, i) => { const th = el("th", name, "sortable"); th.dataset.col = i; head.append(th); });
  board.tHead.append(head);
  data.rows.forEach((row) => {
    const tr = el("tr"); tr.dataset.model = row.model;
    const name = el("td", row.model); name.dataset.value = row.model; tr.append(name);
    tr.append(cell(row.win_rate, row.win_rate_interval));
    tr.append(cell(row.macro, row.macro_interval));
    const cost = cell(row.cost, null); cost.firstChild.textContent = "$" + fmt(row.cost, 4); tr.append(cost);
    tr.append(cell(row.usd_per_point, null));
    board.tBodies[0].append(tr);
  });
  head.querySelectorAll("th").forEach((th) => th.addEventListener("click", () => {
    const col = Number(th.dataset.col);
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    head.querySelectorAll("th").forEach((other) => other.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const rows = Array.from(board.tBodies[0].rows);
    const key = (tr) => { const v = tr.cells[col].dataset.value; return col === 0 ? v : (v === "" ? -Infinity : Number(v)); };
    rows.sort((a, b) => { const x = key(a), y = key(b); const c = x < y ? -1 : x > y ? 1 : 0; return ascending ? c : -c; });
    rows.forEach((tr) => board.tBodies[0].append(tr));
  }));

  // Heatmap of normalised scores; a benchmark's name opens its instances.
  const heat = document.getElementById("heatmap");
  const hh = el("tr"); hh.append(el("th", "benchmark")); data.models.forEach((m) => hh.append(el("th", m))); heat.tHead.append(hh);
  data.benchmarks.forEach((b) => {
    const tr = el("tr"); const name = el("td"); const button = el("button", b.id, "bench");
    button.dataset.benchmark = b.id; button.addEventListener("click", () => drill(b)); name.append(button);
    if (b.group === "custom") name.append(el("span", " (custom)", "note"));
    tr.append(name);
    data.models.forEach((m) => {
      const s = b.scores[m];
      const td = s ? cell(s.normalized, null, s.tied ? " \u2248" : "") : el("td", "-");
      if (s) { td.title = b.metric + " " + fmt(s.score) + ci(s.interval) + " n=" + s.n; const g = Math.round(255 * s.normalized); td.style.backgroundColor = "rgb(" + (255 - g) + ",235," + (255 - g) + ")"; if (s.best) td.style.fontWeight = "bold"; }
      tr.append(td);
    });
    heat.tBodies[0].append(tr);
  });

  // Category means (normalised 0-1) with intervals and per-category win rates.
  const cats = document.getElementById("categories");
  const ch = el("tr"); ch.append(el("th", "category")); data.models.forEach((m) => ch.append(el("th", m))); cats.tHead.append(ch);
  data.categories.forEach((c) => {
    const tr = el("tr"); tr.append(el("td", c.name));
    data.models.forEach((m) => tr.append(cell(c.means[m], c.intervals[m])));
    cats.tBodies[0].append(tr);
    const wr = el("tr"); wr.append(el("td", c.name + " (win rate)"));
    data.models.forEach((m) => wr.append(cell(c.win_rates[m], null)));
    cats.tBodies[0].append(wr);
  });

  // Cost vs mean win rate.
  const svg = document.getElementById("scatter"); const NS = "http://www.w3.org/2000/svg";
  const W = 520, H = 320, P = 50; const pts = data.rows.filter((r) => r.win_rate !== null);
  const maxCost = Math.max(1e-9, ...pts.map((r) => r.cost));
  const x = (c) => P + (W - 2 * P - 90) * c / maxCost, y = (w) => H - P - (H - 2 * P) * w;
  const svgEl = (tag, attrs, text) => { const e = document.createElementNS(NS, tag); Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v)); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
  svgEl("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: "#888" }); svgEl("line", { x1: P, y1: P, x2: P, y2: H - P, stroke: "#888" });
  svgEl("text", { x: W / 2, y: H - 12, "text-anchor": "middle" }, "total cost (USD), max $" + fmt(maxCost, 4));
  svgEl("text", { x: 12, y: P - 12 }, "mean win rate (0-1)");
  pts.forEach((r) => {
    if (r.win_rate_interval) svgEl("line", { x1: x(r.cost), x2: x(r.cost), y1: y(r.win_rate_interval[0]), y2: y(r.win_rate_interval[1]), stroke: "#99c" });
    svgEl("circle", { cx: x(r.cost), cy: y(r.win_rate), r: 5, fill: "#336", class: "point" });
    svgEl("text", { x: x(r.cost) + 7, y: y(r.win_rate) - 4, "font-size": "12" }, r.model);
  });

  // Drill-down: one benchmark's instances.
  function drill(b) {
    const box = document.getElementById("drilldown"); box.hidden = false;
    document.getElementById("drill-title").textContent = b.id + " (" + b.metric + ")";
    const table = document.getElementById("instances"); table.tHead.replaceChildren(); table.tBodies[0].replaceChildren();
    const h = el("tr"); ["instance", "model", "score", "output", "reference"].forEach((n) => h.append(el("th", n))); table.tHead.append(h);
    (data.instances[b.id] || []).forEach((i) => {
      const tr = el("tr"); tr.append(el("td", i.id)); tr.append(el("td", i.model)); tr.append(el("td", fmt(i.score)));
      [i.output, i.reference].forEach((t) => { const td = el("td"); td.append(el("pre", t === null ? data.withheld : t, "text")); tr.append(td); });
      table.tBodies[0].append(tr);
    });
    box.scrollIntoView();
  }
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src '{script_hash}'; style-src 'unsafe-inline'; img-src data:">
<title>MedHELM leaderboard{title_state}</title><style>{style}</style></head>
<body>
<h1>MedHELM leaderboard</h1>
{banner}<p id="meta" class="note"></p>
<p class="note">{normalization}</p>
<h2>Leaderboard</h2>
<p class="note">Ranked by MedHELM's mean win rate. Click a column to sort. Brackets: {level}% bootstrap intervals.</p>
<table id="leaderboard"><thead></thead><tbody></tbody></table>
<h2>Benchmarks x models (normalised scores)</h2>
<p class="note">Bold: the best model; &#8776;: not significantly different from it (paired test, p &gt;= {alpha}). Click a benchmark for its instances.</p>
<table id="heatmap"><thead></thead><tbody></tbody></table>
<h2>Category means (normalised 0-1)</h2>
<table id="categories"><thead></thead><tbody></tbody></table>
<h2>Cost vs mean win rate</h2>
<svg id="scatter" width="520" height="320" role="img" aria-label="cost versus mean win rate"></svg>
<section id="drilldown" hidden><h2 id="drill-title"></h2>
<table id="instances"><thead></thead><tbody></tbody></table></section>
<script type="application/json" id="medhelm-data">{data}</script>
<script>{script}</script>
</body></html>
"""

WITHHELD = "(withheld: patient text is shown only with --medhelm-include-text)"


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> block or open another: <, > and & as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def page_data(results: ResultsFile, include_text: bool) -> dict[str, Any]:
    models = ranked_models(results)
    overall = results.win_rates.get(OVERALL, {})
    rows = []
    for model in models:
        totals = results.totals.get(model)
        rate = overall.get(model)
        rows.append(
            {
                "model": model,
                "win_rate": rate.value if rate else None,
                "win_rate_interval": rate.interval if rate else None,
                "macro": totals.macro_average if totals else None,
                "macro_interval": totals.macro_interval if totals else None,
                "cost": totals.cost_usd if totals else 0.0,
                "usd_per_point": totals.usd_per_point if totals else None,
            }
        )
    benchmarks = []
    for benchmark_id, result in results.benchmarks.items():
        best, tied = not_significant_vs_best(result)
        benchmarks.append(
            {
                "id": benchmark_id,
                "metric": result.metric,
                "group": result.group,
                "scores": {
                    m: {
                        "score": s.score,
                        "normalized": s.normalized,
                        "n": s.n,
                        "interval": s.interval,
                        "best": m == best and len(result.scores) > 1,
                        "tied": m in tied,
                    }
                    for m, s in result.scores.items()
                },
            }
        )
    categories = [
        {
            "name": name,
            "means": means,
            "intervals": results.category_intervals.get(name, {}),
            "win_rates": {m: r.value for m, r in results.win_rates.get(name, {}).items()},
        }
        for name, means in results.categories.items()
    ]
    instances: dict[str, list[dict[str, Any]]] = {}
    for record in results.instances:
        instances.setdefault(record.benchmark, []).append(
            {
                "id": record.instance_id,
                "model": record.model,
                "score": record.score,
                "output": record.output if include_text else None,
                "reference": record.reference if include_text else None,
            }
        )
    meta = f"{len(models)} models, {len(results.benchmarks)} benchmarks"
    if results.started:
        meta += f"; run {results.started} to {results.finished or '?'}"
    if results.plugin_version:
        meta += f"; pytest-medhelm {results.plugin_version}"
    return {
        "meta": meta,
        "models": models,
        "columns": ["model", "mean win rate", "macro average (0-1)", "total cost", "USD per point"],
        "rows": rows,
        "benchmarks": benchmarks,
        "categories": categories,
        "instances": instances,
        "withheld": WITHHELD,
    }


def render(results: ResultsFile, *, include_text: bool = False) -> str:
    script_hash = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    warning = banner(results)
    return PAGE.format(
        title_state="" if results.status == "complete" else f" ({escape(state_label(results.status))})",
        banner="" if warning is None else f'<p id="run-status" role="alert">{escape(warning)}</p>\n',
        script_hash=script_hash,
        style=STYLE,
        script=SCRIPT,
        data=_json_for_script(_finite(page_data(results, include_text))),
        normalization=escape(results.normalization),
        level=int(round(results.uncertainty.level * 100)),
        alpha=escape(f"{results.uncertainty.alpha:g}"),
    )


def _finite(value: Any) -> Any:
    """NaN and infinity are not JSON: None instead."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
