"""The HTML report of a lake: one self-contained page (no CDN, no network), written by every run
to <lake>/reports/index.html by flows/lake.py.

    - what validation said: this run's batch and BI checks, failures, links to the GX Data Docs
      and to the validation reports, and the last runs
    - targets against actuals: every pair of target_attainment whose outcome is known
    - per region: actual vs target growth rates by year (one small chart per indicator), the
      attainment of its targets, and every value with its evidence (the clause it came from)

Charts are Vega-Lite specs made with altair, drawn in the browser by the Vega JavaScript that
vl-convert bundles; the bundle is inlined once in the page. Pure: tables and dicts in, a string
out (render_report); it writes nothing but a cache of that bundle (vega_bundle).
"""
from __future__ import annotations

import html
import json
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from ..core.attainment import doc_id

TIER_ORDER = {"national": 0, "province": 1, "city": 2, "county": 3, "district": 4, "zone": 5}
KIND_COLORS = {"actual": "#1f77b4", "target": "#e4572e"}
STATUS_COLORS = {"met": "#2a9d8f", "met_about": "#8ab17d", "missed": "#e4572e", "unknown": "#8d99ae"}
MAX_RUNS = 10
# a lake of thousands of reports makes a page nobody reads (and a 100 MB string to build): the
# report details this many regions -- those of the run first -- and points to SQL for the rest
MAX_REGIONS = 60


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (vl-convert), for the Vega-Lite version
    altair writes. About 0.9 MB; making it takes about 1.5 s, so it is kept in a cache file
    (GWR_CACHE_DIR, default ~/.cache/gwr-lake/), named by the versions it was made from."""
    from importlib.metadata import version

    from altair.utils._importers import import_vl_convert, vl_version_for_vl_convert

    vl = vl_version_for_vl_convert()
    cache = Path(os.environ.get("GWR_CACHE_DIR") or Path.home() / ".cache" / "gwr-lake")
    path = cache / f"vega-bundle-{version('vl-convert-python')}-{vl}.js"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    js = import_vl_convert().javascript_bundle(vl_version=vl).replace("</script", "<\\/script")
    try:  # a cache only: where it cannot be written, the bundle is made again next time
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(js, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return js


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    from ..core import vocab

    return {code: ind.name_zh for code, ind in vocab.load().indicators.items()}


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _num(v) -> str:
    if v is None or v != v:
        return ""
    if float(v).is_integer() and abs(v) < 1e18:
        return f"{int(v):,}"
    return format(v, ",.10g")


def _label(code: str) -> str:
    return f"{_names().get(code, code)} ({code})"


def _json(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, ensure_ascii=False, default=str).replace("</", "<\\/")


# ---- charts ------------------------------------------------------------------------------
def growth_chart(rows: list[dict]) -> dict:
    """Vega-Lite spec: growth rates of one region, actual (line) and target (diamond) by year,
    one small chart per indicator."""
    data = [{"indicator": _label(r["indicator"]), "year": str(r["year"]), "kind": r["kind"],
             "value": r["value"], "as written": r["value_text"], "quote": r["quote"]}
            for r in rows]
    return {**_growth_spec(), "data": {"values": data}}


@lru_cache(maxsize=1)
def _growth_spec() -> dict:
    """The spec of growth_chart without its data (altair takes ~70 ms to build one: once)."""
    import altair as alt

    base = alt.Chart().encode(
        x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=0, labelOverlap="parity")),
        y=alt.Y("value:Q", title="growth, %"),
        color=alt.Color("kind:N", title=None,
                        scale=alt.Scale(domain=list(KIND_COLORS), range=list(KIND_COLORS.values()))),
        tooltip=["indicator:N", "kind:N", "year:O", "value:Q", "as written:N", "quote:N"])
    actual = base.transform_filter("datum.kind == 'actual'").mark_line(point=True)
    target = base.transform_filter("datum.kind == 'target'").mark_point(
        shape="diamond", size=90, filled=True)
    chart = (alt.layer(actual, target, data=alt.Data(values=[]))
             .properties(width=170, height=110)
             .facet(facet=alt.Facet("indicator:N", title=None, header=alt.Header(labelFontSize=11)),
                    columns=4)
             .resolve_scale(y="independent"))
    spec = chart.to_dict(validate=False)
    assert spec["data"] == {"values": []}, spec.get("data")
    return spec


def attainment_chart(rows: list[dict]) -> dict:
    """Vega-Lite spec: every known target (growth rates) beside its actual, one line each."""
    import altair as alt

    data = []
    for r in rows:
        label = f"{r['region']} · {_names().get(r['indicator'], r['indicator'])} · {r['year']}"
        for side in ("target", "actual"):
            data.append({"pair": label, "side": side, "value": r[side], "status": r["status"],
                         "gap": r["gap"], "quote": r[f"{side}_quote"]})
    y = alt.Y("pair:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    x = alt.X("value:Q", title="growth, %")
    rule = alt.Chart().mark_rule(color="#999").encode(
        y=y, x="min(value):Q", x2="max(value):Q")
    points = alt.Chart().mark_point(size=80, filled=True).encode(
        y=y, x=x,
        shape=alt.Shape("side:N", title=None, scale=alt.Scale(domain=["target", "actual"],
                                                             range=["diamond", "circle"])),
        color=alt.Color("status:N", title="outcome",
                        scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))),
        tooltip=["pair:N", "side:N", "value:Q", "status:N", "gap:Q", "quote:N"])
    chart = alt.layer(rule, points, data=alt.Data(values=data)).properties(
        width=420, height=alt.Step(16))
    return chart.to_dict(validate=False)


# ---- page parts --------------------------------------------------------------------------
def _table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _failure_line(f: dict) -> str:
    from ..quality import Failure

    known = {k: f.get(k) for k in Failure.__dataclass_fields__ if k in f}
    return Failure(**known).line()


def _validation_section(checks: list[tuple[str, dict | None]], links: dict) -> str:
    out = ['<section id="validation"><h2>Validation</h2>']
    ran = [(title, v) for title, v in checks if v]
    if not ran:
        out.append("<p>No validation ran in this run.</p>")
    for title, v in ran:
        ok = v.get("success")
        out.append(f'<h3>{_e(title)}: <span class="{"ok" if ok else "bad"}">'
                   f'{"passed" if ok else "FAILED"}</span></h3>')
        rows = [[_e(t), _e(s.get("rows")), _e(s.get("expectations")),
                 f'<span class="{"bad" if s.get("failed") else "ok"}">{_e(s.get("failed"))}</span>']
                for t, s in v.get("tables", {}).items()]
        out.append(_table(["table", "rows", "expectations", "failed"], rows, "validation"))
        fails = v.get("failures") or []
        if fails:
            out.append('<ul class="failures">' + "".join(
                f"<li>{_e(_failure_line(f))}</li>" for f in fails[:50]) + "</ul>")
    items = [f'<a href="{_e(href)}">{_e(name)}</a>' for name, href in links.items()]
    if items:
        out.append("<p>" + " · ".join(items) + "</p>")
    out.append("<p class=note>Great Expectations Data Docs load their stylesheets from CDNs: "
               "offline they show unstyled, with the same content.</p></section>")
    return "\n".join(out)


def _runs_section(runs: list[dict]) -> str:
    rows = []
    for m in reversed(runs[-MAX_RUNS:]):
        v = m.get("validation") if isinstance(m.get("validation"), dict) else {}
        pub = m.get("published") or {}
        if not isinstance(pub, dict):   # e.g. a manifest written by recovery: a list of tables
            pub = {str(t): "" for t in pub} if isinstance(pub, list) else {}
        rows.append([_e(m.get("run_id")), f'<span class="{_status_cls(m.get("status"))}">'
                     f'{_e(m.get("status"))}</span>', _e(m.get("source")),
                     _e(m.get("finished_at") or m.get("started_at")), _e(v.get("summary", "")),
                     _e(", ".join(f"{k}={n}" if n != "" else str(k) for k, n in pub.items()))])
    return ('<section id="runs"><h2>Last runs</h2>'
            + _table(["run", "status", "source", "finished", "validation", "rows in the lake"],
                     rows, "runs") + "</section>")


def _status_cls(status) -> str:
    return {"published": "ok", "met": "ok"}.get(status, "bad" if status else "")


def _attainment_rows(rows: list[dict], with_region: bool) -> list[list]:
    out = []
    for r in rows:
        cells = [_e(r["region"])] if with_region else []
        high = f"–{_e(_num(r['target_high']))}" if r["target_high"] is not None else ""
        cells += [_e(_label(r["indicator"])), _e(r["measure"]), _e(r["year"]),
                  _e(_num(r["target"])) + high,
                  _e(r["target_qualifier"] or ""), _e(_num(r["actual"])), _e(r["unit"] or ""),
                  f'<span class="{r["status"]}">{_e(r["status"])}</span>', _e(_num(r["gap"])),
                  f'<q>{_e(r["target_quote"])}</q> <small>{_e(r["target_source"])}</small>',
                  (f'<q>{_e(r["actual_quote"])}</q> <small>{_e(r["actual_source"])}</small>'
                   if r["actual_quote"] else "")]
        out.append(cells)
    return out


ATTAINMENT_HEADERS = ["indicator", "measure", "year", "target", "qualifier", "actual", "unit",
                      "status", "gap", "target evidence", "actual evidence"]
VALUE_HEADERS = ["indicator", "measure", "kind", "year", "value", "unit", "qualifier", "as written",
                 "evidence", "source"]


def _region_order(panel: pa.Table, focus: set[str] | None) -> list[str]:
    """Regions of the panel: those in `focus` (the run's) first, then by tier, province, name."""
    if not panel.num_rows:
        return []
    import pyarrow.compute as pc

    t = panel.select(["region", "tier", "province"]).filter(pc.is_valid(panel["region"]))
    meta: dict[str, list] = {}
    for region, tier, province in zip(*(t[c].to_pylist() for c in ("region", "tier", "province"))):
        m = meta.setdefault(region, [None, None])
        m[0], m[1] = m[0] or tier, m[1] or province
    return sorted(meta, key=lambda g: (g not in (focus or ()), TIER_ORDER.get(meta[g][0], 9),
                                       meta[g][1] or "", g))


def _region_section(i: int, region: str, meta: dict, values: list[dict],
                    attainment: list[dict], charts: dict) -> str:
    where = ", ".join(x for x in (meta.get("tier"), meta.get("province")) if x and x != region)
    out = [f'<section class="region" id="region-{i}"><h2>{_e(region)}'
           + (f' <small>{_e(where)}</small>' if where else "") + "</h2>"]
    growth = [r for r in values if r["measure"] == "growth_pct" and r["status"] == "reported"
              and r["value"] is not None]
    if growth:
        cid = f"chart-{i}"
        charts[cid] = growth_chart(growth)
        out.append(f'<h3>Growth rates: actual vs target</h3><div class="chart" id="{cid}"></div>')
    if attainment:
        out.append("<h3>Targets and what became of them</h3>")
        out.append(_table(ATTAINMENT_HEADERS, _attainment_rows(attainment, False), "attainment"))
    rows = []
    for r in values:
        value = "no target set" if r["status"] == "no_target" else _num(r["value"])
        if r["value_high"] is not None:
            value += f"–{_num(r['value_high'])}"
        rows.append([_e(_label(r["indicator"])), _e(r["measure"]), _e(r["kind"]), _e(r["year"]),
                     _e(value), _e(r["unit"] or ""),
                     _e(r["qualifier"] or "") + (" (预计)" if r["estimate"] else ""),
                     _e(r["value_text"]), f"<q>{_e(r['quote'])}</q>",
                     _e(doc_id(r["source_name"], r["doc_index"]))])
    out.append(f"<h3>Values and their evidence ({len(rows)})</h3>")
    out.append(_table(VALUE_HEADERS, rows, "values"))
    out.append("</section>")
    return "\n".join(out)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;
margin:0 auto;max-width:1400px;padding:0 1.5em 3em;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h2 small{font-weight:normal;color:#666;font-size:.6em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4} td q{quotes:"「" "」"} td small{color:#777}
table.values td:nth-child(5),table.attainment td:nth-child(4),table.attainment td:nth-child(6),
table.attainment td:nth-child(9){text-align:right;white-space:nowrap}
.ok,.met{color:#1b7f5a;font-weight:600} .bad,.missed{color:#c0392b;font-weight:600}
.unknown{color:#777} .note{color:#666;font-size:.85em}
nav ul{columns:5;list-style:none;padding:0} nav li{margin:.1em 0}
.chart{margin:.5em 0}
"""


def _group(panel: pa.Table, attainment: pa.Table, focus: set[str] | None):
    """The panel's values and the attainment pairs by region, with each region's tier and
    province, regions in the page's order (the run's first, then by tier and province)."""
    values = sorted(panel.to_pylist(), key=lambda r: (
        r["indicator"], r["measure"], r["kind"], r["year"] or 0, r["source_name"], r["doc_index"]))
    pairs = attainment.to_pylist()
    by_region: dict[str, list[dict]] = {}
    meta: dict[str, dict] = {}
    for r in values:
        if not r["region"]:
            continue
        by_region.setdefault(r["region"], []).append(r)
        m = meta.setdefault(r["region"], {"tier": None, "province": None})
        m["tier"] = m["tier"] or r["tier"]
        m["province"] = m["province"] or r["province"]
    att_by_region: dict[str, list[dict]] = {}
    for r in pairs:
        att_by_region.setdefault(r["region"], []).append(r)
    regions = sorted(by_region, key=lambda g: (g not in (focus or ()), TIER_ORDER.get(meta[g]["tier"], 9),
                                               meta[g]["province"] or "", g))
    return regions, by_region, meta, att_by_region, pairs


def _head(run: dict, lake: str, when: str, counts: tuple[int, int, int, int]) -> list[str]:
    n_values, n_pairs, n_all, n_shown = counts
    status = run.get("status", "")
    return ["<!DOCTYPE html>", '<html lang="zh-Hans"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>gwr-lake report</title>", f"<style>{STYLE}</style>",
            f"<script>{vega_bundle()}</script>", "</head><body>",
            "<h1>gwr-lake report</h1>",
            f'<p>Run <b>{_e(run.get("run_id", "?"))}</b>: '
            f'<span class="{_status_cls(status)}">{_e(status)}</span>'
            + (f" — {_e(run.get('error'))}" if run.get("error") else "")
            + f"<br>source {_e(run.get('source', ''))} · lake {_e(lake)} · generated {_e(when)}"
            + f"<br>{n_values} panel values, {n_pairs} targets, {n_all} regions"
            + (f" (the {n_shown} shown here: this run's first, then by tier and province; "
               f"every region is in the tables: <code>python -m flows sql</code>)"
               if n_all > n_shown else "") + "</p>"]


def _attainment_section(pairs: list[dict], charts: dict) -> str:
    known = sorted((r for r in pairs if r["status"] != "unknown"),
                   key=lambda r: (r["region"], r["year"], r["indicator"], r["measure"]))
    counts = {s: sum(r["status"] == s for r in pairs) for s in STATUS_COLORS}
    out = ['<section id="attainment"><h2>Targets vs actuals</h2><p>'
           + " · ".join(f'<span class="{s}">{s}: {n}</span>' for s, n in counts.items())
           + " (unknown: the actual is not in the lake yet, or no target was set)</p>"]
    growth_known = [r for r in known if r["measure"] == "growth_pct"]
    if growth_known:
        charts["chart-attainment"] = attainment_chart(growth_known)
        out.append('<div class="chart" id="chart-attainment"></div>')
    if known:
        out.append(_table(["region"] + ATTAINMENT_HEADERS, _attainment_rows(known, True), "attainment"))
    out.append("</section>")
    return "\n".join(out)


def render_report(panel: pa.Table, attainment: pa.Table, *, run: dict | None = None,
                  checks: list[tuple[str, dict | None]] = (), runs: list[dict] = (),
                  links: dict[str, str] | None = None, lake: str = "",
                  generated_at: datetime | None = None, focus: set[str] | None = None,
                  max_regions: int = MAX_REGIONS) -> str:
    """The report page.

    panel, attainment: the lake's indicator_panel and target_attainment tables;
    run: this run's summary (run_id, status, source ...); checks: (title, ValidationReport.to_dict())
    of this run's validations (None when one did not run); runs: the lake's manifests, oldest
    first; links: name -> href shown in the validation section (Data Docs, validation files)."""
    when = (generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    n_values, n_pairs = panel.num_rows, attainment.num_rows
    all_regions = _region_order(panel, focus)
    shown = all_regions[:max_regions]
    if len(all_regions) > len(shown):   # only the rows of the regions shown become Python rows
        import pyarrow.compute as pc

        keep = pa.array(shown, pa.string())
        panel = panel.filter(pc.is_in(panel["region"], value_set=keep))
        attainment = attainment.filter(pc.is_in(attainment["region"], value_set=keep))
    regions, by_region, meta, att_by_region, pairs = _group(panel, attainment, focus)
    charts: dict[str, dict] = {}
    out = _head(run or {}, lake, when, (n_values, n_pairs, len(all_regions), len(regions)))
    toc = "".join(f'<li><a href="#region-{i}">{_e(g)}</a></li>' for i, g in enumerate(regions))
    out.append('<nav><a href="#validation">Validation</a> · <a href="#runs">Last runs</a> · '
               f'<a href="#attainment">Targets vs actuals</a><ul>{toc}</ul></nav>')
    out.append(_validation_section(list(checks), links or {}))
    out.append(_runs_section(list(runs)))
    out.append(_attainment_section(pairs, charts))
    for i, g in enumerate(regions):
        out.append(_region_section(i, g, meta[g], by_region[g], att_by_region.get(g, []), charts))
    out.append("<script>\nconst specs = " + _json(charts) + ";\n"
               "for (const [id, spec] of Object.entries(specs)) {\n"
               "  vegaEmbed('#' + id, spec, {renderer: 'svg', actions: false})"
               ".catch(e => { document.getElementById(id).textContent = 'chart error: ' + e; });\n"
               "}\n</script>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
