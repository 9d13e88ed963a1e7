"""CPU seconds of the six GX suites on one report's rows and on a whole corpus's rows.

    python -m bench.gx_suites tables --corpus /tmp/c2000 --out /tmp/gx_tables
    python -m bench.gx_suites time --tables /tmp/gx_tables [--repeat 5] [--json out.json]

`tables` runs the core on a corpus (bench/generate.py) and writes the rows the flow would
validate as Parquet: source_items, reports, indicator_mentions, indicator_panel and the BI tables
of the whole corpus (all/), and the rows of its first report with its region's BI rows (one/).
`time` validates both sets with the tree on sys.path (flows.quality, or flows.validate in trees
before the package existed), all six tables in one call and each table alone, and prints the
fastest of `repeat` CPU times (process_time: this process only) after a warm-up call.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TABLES = ("source_items", "reports", "indicator_mentions", "indicator_panel",
          "indicator_wide", "target_attainment")


def corpus_tables(corpus: Path) -> dict[str, pa.Table]:
    """The six tables of every file of a corpus, as the flow stages and builds them."""
    import hashlib

    from flows.bi import bi_tables
    from flows.core.read import read_items
    from flows.schemas import from_objects
    from flows.work import run_core

    parts: dict[str, list[pa.Table]] = {t: [] for t in TABLES[:4]}
    now = datetime.now(timezone.utc)
    for path in sorted(corpus.glob("*.txt")):
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        items = read_items(path.name, data)
        parts["source_items"].append(from_objects(
            "source_items", items, {"sha256": sha, "byte_size": len(data), "fetched_at": now}))
        res = run_core(path.name, sha, items)
        parts["reports"].append(from_objects("reports", res.reports,
                                             {"sha256": [sha] * len(res.reports)}))
        parts["indicator_mentions"].append(from_objects("indicator_mentions", res.mentions))
        parts["indicator_panel"].append(from_objects("indicator_panel", res.panel))
    out = {t: pa.concat_tables(p) for t, p in parts.items()}
    out.update(bi_tables(out["indicator_panel"]))
    return out


def one_report(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The rows of the corpus's first report (its file's items) and its region's BI rows."""
    panel = tables["indicator_panel"]
    name, doc = panel["source_name"][0].as_py(), panel["doc_index"][0].as_py()
    out = {}
    for t in TABLES[:4]:
        rows = tables[t].filter(pc.equal(tables[t]["source_name"], name))
        if "doc_index" in rows.column_names:
            rows = rows.filter(pc.equal(rows["doc_index"], doc))
        out[t] = rows
    regions = pa.array(sorted({r for r in out["indicator_panel"]["region"].to_pylist() if r}))
    for t in TABLES[4:]:
        out[t] = tables[t].filter(pc.is_in(tables[t]["region"], value_set=regions))
    return out


def write_tables(corpus: Path, out: Path) -> None:
    whole = corpus_tables(corpus)
    for label, tables in (("all", whole), ("one", one_report(whole))):
        (out / label).mkdir(parents=True, exist_ok=True)
        for t, data in tables.items():
            pq.write_table(data, out / label / f"{t}.parquet")
        print(label, {t: v.num_rows for t, v in tables.items()})


def _validate_tables():
    try:
        from flows.quality import validate_tables
    except ImportError:
        from flows.validate import validate_tables
    return validate_tables


def cpu(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def time_tables(where: Path, repeat: int) -> dict:
    """{one|all: {rows, expectations, together_s, alone_s: {table: s}}} of the tree on sys.path."""
    validate_tables = _validate_tables()
    out = {}
    for label in ("one", "all"):
        tables = {t: pq.read_table(where / label / f"{t}.parquet") for t in TABLES}
        report = validate_tables(tables)   # warm: the import, GX's caches
        assert report.success, report.summary()
        out[label] = {
            "rows": {t: v.num_rows for t, v in tables.items()},
            "expectations": {t: s["expectations"] for t, s in report.tables.items()},
            "together_s": round(cpu(lambda: validate_tables(tables), repeat), 3),
            "alone_s": {t: round(cpu(lambda: validate_tables({t: v}), repeat), 3)
                        for t, v in tables.items()},
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tables")
    t.add_argument("--corpus", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("time")
    m.add_argument("--tables", type=Path, required=True)
    m.add_argument("--repeat", type=int, default=5)
    m.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "tables":
        write_tables(args.corpus, args.out)
        return
    got = time_tables(args.tables, args.repeat)
    text = json.dumps(got, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
