"""What a run shows in the Prefect UI (its Artifacts tab), published by every run, failed or not:

    gwr-lake-summary        markdown: status, inputs, what each stage did, counts per layer
    gwr-lake-counts         table: rows per layer and table (this run / in the lake), files written
    gwr-lake-panel          table: the panel as region x year with key indicators
    gwr-lake-validation     markdown: what was checked, what failed and where (always)
    gwr-lake-growth-chart   markdown with an inline SVG: GDP growth, actual vs target, per region

Built from plain rows and dicts; nothing here reads or writes the lake.
"""
from __future__ import annotations

import html
from collections import defaultdict


# columns of the panel artifact: (label, indicator, kind, measure)
KEY_INDICATORS = [
    ("GDP growth target %", "gdp", "target", "growth_pct"),
    ("GDP growth actual %", "gdp", "actual", "growth_pct"),
    ("GDP (100m yuan)", "gdp", "actual", "level"),
    ("budget revenue growth %", "budget_revenue", "actual", "growth_pct"),
    ("fixed investment growth %", "fixed_asset_investment", "actual", "growth_pct"),
    ("retail sales growth %", "retail_sales", "actual", "growth_pct"),
    ("disposable income growth %", "disposable_income", "actual", "growth_pct"),
    ("CPI target %", "cpi", "target", "growth_pct"),
]
MAX_PANEL_ROWS = 500
# what the panel artifacts read of the run's panel rows
PANEL_COLUMNS = ["source_name", "doc_index", "region", "year", "indicator", "kind", "measure",
                 "value", "unit", "status"]


def key_indicators() -> list[str]:
    return sorted({ind for _, ind, _, _ in KEY_INDICATORS})


def _num(v, unit: str | None = None):
    if v is None:
        return None
    if unit == "yuan":
        v = v / 1e8
    return round(v, 2)


def panel_by_region_year(panel: list[dict]) -> list[dict]:
    """Panel rows -> one row per (region, year) with the key indicators as columns."""
    cells: dict[tuple, dict] = defaultdict(dict)
    for r in panel:
        if r.get("status") == "no_target" or r.get("year") is None:
            continue
        key = (r.get("region") or "?", r["year"])
        for label, ind, kind, measure in KEY_INDICATORS:
            if (r["indicator"], r["kind"], r["measure"]) == (ind, kind, measure):
                cells[key].setdefault(label, _num(r["value"], r.get("unit")))
    rows = []
    for (region, year), vals in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rows.append({"region": region, "year": year, **{label: vals.get(label) for label, *_ in KEY_INDICATORS}})
    return rows


def growth_pairs(panel: list[dict]) -> list[tuple[str, str, float | None, float | None]]:
    """Per region: (region, years, actual, target) of GDP growth -- the latest actual figure and
    the latest target (a report reviews last year and plans this one: "2022 / 2023"), where at
    least one is known."""
    got: dict[str, dict] = defaultdict(dict)
    for r in panel:
        if (r["indicator"], r["measure"]) != ("gdp", "growth_pct") or r.get("value") is None \
                or r.get("year") is None or r["kind"] not in ("actual", "target") \
                or r.get("period", "annual") != "annual":
            continue
        cur = got[r.get("region") or "?"].get(r["kind"])
        if cur is None or r["year"] > cur[0]:
            got[r.get("region") or "?"][r["kind"]] = (r["year"], r["value"])
    out = []
    for region, v in sorted(got.items()):
        a, t = v.get("actual"), v.get("target")
        years = " / ".join(str(x[0]) if x else "-" for x in (a, t))
        out.append((region, years, a[1] if a else None, t[1] if t else None))
    return out


def growth_svg(pairs, width: int = 760) -> str:
    """A horizontal bar chart: per region, actual (blue) and target (orange) GDP growth, drawn
    from a zero line: a fall (-2.5%) to the left of it, a rise to the right."""
    bar, gap, left, top = 11, 8, 230, 34
    values = [x for _, _, a, t in pairs for x in (a, t) if x is not None]
    lo, hi = min(values + [0.0]), max(values + [1.0])
    scale = (width - left - 90) / (hi - lo)
    zero = left + 40 + (-lo) * scale
    height = top + len(pairs) * (2 * bar + gap) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           '<rect x="0" y="0" width="100%" height="100%" fill="white"/>',
           f'<rect x="{left}" y="8" width="12" height="12" fill="#1f77b4"/>'
           f'<text x="{left + 16}" y="18">actual (latest year reviewed)</text>',
           f'<rect x="{left + 220}" y="8" width="12" height="12" fill="#ff7f0e"/>'
           f'<text x="{left + 236}" y="18">target (year planned)</text>',
           f'<line x1="{zero:.1f}" y1="{top - 4}" x2="{zero:.1f}" y2="{height - 6}" stroke="#555"/>']
    y = top
    for region, years, actual, target in pairs:
        out.append(f'<text x="{left - 6}" y="{y + bar + 4}" text-anchor="end">'
                   f'{html.escape(str(region))} {years}</text>')
        for val, color, dy in ((actual, "#1f77b4", 0), (target, "#ff7f0e", bar)):
            if val is None:
                out.append(f'<text x="{zero + 4:.1f}" y="{y + dy + 9}" fill="#999">n/a</text>')
                continue
            w = max(abs(val) * scale, 1)
            x = zero if val >= 0 else zero - w
            label_x, anchor = (x + w + 4, "start") if val >= 0 else (x - 4, "end")
            out.append(f'<rect x="{x:.1f}" y="{y + dy}" width="{w:.1f}" height="{bar - 1}" fill="{color}"/>'
                       f'<text x="{label_x:.1f}" y="{y + dy + 9}" text-anchor="{anchor}">{val:g}%</text>')
        y += 2 * bar + gap
    out.append("</svg>")
    return "".join(out)


def _bar(v: float | None, vmax: float, width: int = 20) -> str:
    """A text bar: a rise grows right of the zero mark (|), a fall left of it."""
    if v is None:
        return ""
    n = max(1, round(abs(v) / vmax * width))
    return "`" + (f"{'█' * n}| {v:g}" if v < 0 else f"|{'█' * n} {v:g}") + "`"


def chart_markdown(panel: list[dict], run_id: str, limit: int = 40) -> str:
    """The chart as an SVG image (a data: URI, which both Prefect UIs render; inline <svg> is
    stripped by their sanitizers), then the same figures as a table with text bars."""
    import base64

    pairs = growth_pairs(panel)
    shown = pairs[:limit]
    md = [f"## GDP growth: actual vs target, run {run_id}", ""]
    if not shown:
        return "\n".join(md + ["No GDP growth figure in this run's panel."])
    uri = "data:image/svg+xml;base64," + base64.b64encode(growth_svg(shown).encode()).decode()
    vmax = max([abs(x) for _, _, a, t in shown for x in (a, t) if x is not None] + [1.0])
    md += [f"{len(pairs)} region(s) with a GDP growth figure" + (f" (first {limit} shown)" if len(pairs) > limit else "")
           + "; actual = the latest year reviewed, target = the latest year planned.", "",
           f"![GDP growth, actual vs target, per region]({uri})", "",
           "| region | years (actual / target) | actual % | target % |", "|---|---|---|---|"]
    for region, years, a, t in shown:
        md.append(f"| {region} | {years} | {_bar(a, vmax)} | {_bar(t, vmax)} |")
    return "\n".join(md)


def validation_markdown(validation: dict | None, panel: list[dict], run_id: str,
                        suites: dict[str, list[dict]] | None = None) -> str:
    """What was checked, what failed, and where (the sources of the failing rows)."""
    if validation is None:
        return f"# Validation, run {run_id}\n\nNot run: nothing new to validate, or the run stopped before."
    from ..quality.validate import Failure

    failures = [Failure(**f) for f in validation.get("failures", [])]
    md = [f"# Validation, run {run_id}: {'PASSED' if validation.get('success') else 'FAILED'}", "",
          validation.get("summary", ""), "", "## What was checked", "",
          "| table | rows | expectations | failed |", "|---|---|---|---|"]
    for t, s in (validation.get("tables") or {}).items():
        md.append(f"| {t} | {s['rows']} | {s['expectations']} | {s['failed']} |")
    for t, exps in (suites or {}).items():
        kinds = defaultdict(list)
        for e in exps:
            col = e.get("kwargs", {}).get("column") or ", ".join(e.get("kwargs", {}).get("column_list", []))
            kinds[e["type"].removeprefix("expect_")].append(col or "table")
        md.append(f"- **{t}**: " + "; ".join(f"{k} ({', '.join(sorted(set(v)))})" for k, v in kinds.items()))
    md += ["", "## Failures", ""]
    if not failures:
        md.append("None: every expectation held.")
    for f in failures:
        md.append(f"- {f.line()}")
        col, examples = f.kwargs.get("column"), f.examples
        rows = panel if f.table == "indicator_panel" else []
        if col and examples and rows:
            where = sorted({f"{r.get('source_name')}#{r.get('doc_index', r.get('item_index', ''))}"
                            for r in rows if r.get(col) in examples})
            if where:
                md.append(f"  - where: {', '.join(where[:15])}" + (" ..." if len(where) > 15 else ""))
    return "\n".join(md)


def counts_rows(summary: dict) -> list[dict]:
    b, p = summary.get("batch") or {}, summary.get("published") or {}
    versions, committed = summary.get("versions") or {}, set(summary.get("committed") or [])
    rows = [{"layer": "bronze", "table": "source_items", "this run": b.get("source_items", 0),
             "in the lake": None, "version": None}]
    for layer, t in (("silver", "reports"), ("gold", "indicator_mentions"), ("gold", "indicator_panel"),
                     ("gold", "indicator_wide"), ("gold", "target_attainment")):
        rows.append({"layer": layer, "table": t, "this run": b.get(t, 0), "in the lake": p.get(t),
                     "version": f"v{versions[t]}" + (" (new)" if t in committed else "") if t in versions else None})
    rows.append({"layer": "quarantine", "table": "quarantine", "this run": len(summary.get("quarantined") or []),
                 "in the lake": None, "version": None})
    return rows


def publish_artifacts(summary: dict, panel: list[dict], validation: dict | None,
                      suites: dict | None = None) -> list[str]:
    """Every run's artifacts (keys are stable: the UI keeps their history across runs).
    panel: the panel rows of the regions the run changed; validation: the run's recorded
    validation (validation/<run_id>.json), or None when it did not validate."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from ..stages.summary import format_summary

    run_id = summary["run_id"]
    create_markdown_artifact(key="gwr-lake-summary", markdown=format_summary(summary),
                             description=f"run {run_id}: {summary.get('status')}")
    create_table_artifact(key="gwr-lake-counts", table=counts_rows(summary),
                          description=f"rows per layer, run {run_id}")
    wide = panel_by_region_year(panel)
    create_table_artifact(key="gwr-lake-panel", table=wide[:MAX_PANEL_ROWS],
                          description=f"indicator panel by region and year, run {run_id} "
                                      f"({min(len(wide), MAX_PANEL_ROWS)} of {len(wide)} region-years)")
    create_markdown_artifact(key="gwr-lake-validation", markdown=validation_markdown(validation, panel, run_id, suites),
                             description=f"validation of run {run_id}")
    create_markdown_artifact(key="gwr-lake-growth-chart", markdown=chart_markdown(panel, run_id),
                             description=f"GDP growth actual vs target, run {run_id}")
    report = summary.get("report")
    if report:
        docs = report.rsplit("/", 1)[0] + "/data_docs/index.html"
        create_markdown_artifact(
            key="gwr-lake-report", description=f"run {run_id}: the HTML report and the GX Data Docs",
            markdown=(f"## gwr-lake report, run {run_id}: {summary.get('status')}\n\n"
                      f"- [HTML report]({report}): actual vs target charts per region, every value with its "
                      f"evidence, what validation said\n- [Great Expectations Data Docs]({docs})\n\n"
                      f"Open in a browser (a browser may not follow file:// links from this page: copy the "
                      f"address):\n\n    {report}\n"))
    return ["gwr-lake-summary", "gwr-lake-counts", "gwr-lake-panel", "gwr-lake-validation",
            "gwr-lake-growth-chart"] + (["gwr-lake-report"] if report else [])
