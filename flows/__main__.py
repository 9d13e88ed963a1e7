"""Command line: python -m flows {run, evaluate, extract, sql} ...

    python -m flows run [--source PATH|URL] [--lake DIR|URL] [--task-runner thread|dask]
                                                           the whole flow (Prefect)
    python -m flows serve [--cron CRON] [--source ...] [--lake ...]   a scheduled deployment
    python -m flows evaluate --gold CSV [--lake DIR]       score the lake's gold panel
    python -m flows extract FILE... [--format table|csv|json]   the pure core on files, no lake
    python -m flows sql [--lake DIR] [--query SQL]         DuckDB views over every table of the lake

Heavy libraries are imported by the command that needs them only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _default_source() -> str:
    """seeds/ of the working directory, else the repository's own."""
    return "seeds" if Path("seeds").is_dir() else str(REPO / "seeds")


def _is_url(source: str) -> bool:
    return "://" in source


def cmd_run(args) -> int:
    source = args.source or _default_source()
    if not _is_url(source) and not Path(source).exists():
        print(f"error: source not found: {source}", file=sys.stderr)
        return 2
    from .flow import format_summary, gwr_lake
    from . import runners
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    flow = gwr_lake
    if args.task_runner != "thread" or args.dask_address:
        flow = gwr_lake.with_options(task_runner=runners.make(
            "dask" if args.dask_address else args.task_runner, args.dask_address))
    # no heartbeats for a local run: they only serve crash detection by a server's workers
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = flow(source=source, lake=args.lake, expectations=args.expectations,
                     return_state=True)
    if state.is_completed():
        print()
        print(format_summary(state.result()))
        return 0
    print(f"\nFAILED: {state.message}", file=sys.stderr)
    return 1


def cmd_serve(args) -> int:
    source = args.source or _default_source()
    if not _is_url(source):
        source = str(Path(source).resolve())
    lake = args.lake if _is_url(args.lake) else str(Path(args.lake).resolve())
    from .serve import serve

    return serve(name=args.name, cron=args.cron, source=source, lake=lake,
                 expectations=args.expectations, task_runner=args.task_runner,
                 dask_address=args.dask_address, timezone=args.timezone)


def cmd_evaluate(args) -> int:
    from .evaluate import main as evaluate_main

    return evaluate_main(args)


def cmd_extract(args) -> int:
    from . import extract_items
    from .core.model import SourceError
    from .core.read import read_items

    items, failed = [], 0
    for f in args.files:
        p = Path(f)
        try:
            items += read_items(p.name, p.read_bytes())
        except (OSError, SourceError) as e:
            print(f"error: {f}: {e}", file=sys.stderr)
            failed += 1
    df = extract_items(items)
    if args.format == "csv":
        df.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(df.to_json(orient="records", force_ascii=False, indent=1) + "\n")
    else:
        cols = ["source_name", "doc_index", "region", "indicator", "kind", "measure", "year",
                "value", "value_high", "unit", "qualifier", "estimate", "quote"]
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None,
                               "display.width", 250, "display.max_colwidth", 40,
                               "display.float_format", "{:g}".format):
            print(df[cols].to_string(index=False) if len(df) else "(no panel rows)")
    return 1 if failed else 0


def cmd_sql(args) -> int:
    from .sql import main as sql_main

    return sql_main(args)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m flows", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    def flow_args(p):
        p.add_argument("--source", help="folder, single file or http(s) URL to read (default: seeds/)")
        p.add_argument("--lake", default="lake",
                       help="lake root: a folder, or an fsspec URL such as s3://bucket/prefix (default: lake/)")
        p.add_argument("--expectations", help="folder of GX suites (default: the repo's expectations/)")
        p.add_argument("--task-runner", choices=["thread", "dask"], default="thread",
                       help="where the per-file tasks run: threads (default) or Dask")
        p.add_argument("--dask-address", help="an existing Dask scheduler (tcp://host:8786); "
                                              "default: a local cluster")

    run = sub.add_parser("run", help="run the whole flow: source -> bronze/silver/gold in the lake")
    flow_args(run)
    run.set_defaults(func=cmd_run)

    srv = sub.add_parser("serve", help="serve a scheduled deployment of the flow (blocks; Ctrl-C stops)")
    flow_args(srv)
    srv.add_argument("--cron", default="0 6 * * *", help="schedule (default: daily at 06:00)")
    srv.add_argument("--timezone", default="UTC", help="time zone of the cron (default UTC)")
    srv.add_argument("--name", default="gwr-lake-daily", help="deployment name (default gwr-lake-daily)")
    srv.set_defaults(func=cmd_serve)

    ev = sub.add_parser("evaluate", help="score the lake's gold panel against a reference CSV")
    ev.add_argument("--gold", required=True, help="reference CSV (format of seeds_indicators.csv)")
    ev.add_argument("--lake", default="lake", help="lake root folder (default: lake/)")
    ev.add_argument("--min-precision", type=float, help="exit 1 when precision is below this")
    ev.add_argument("--min-recall", type=float, help="exit 1 when recall is below this")
    ev.add_argument("--max-list", type=int, default=50, help="misses / false positives listed (default 50)")
    ev.add_argument("--json", dest="json_out", help="also write the scores as JSON to this file")
    ev.set_defaults(func=cmd_evaluate)

    ex = sub.add_parser("extract", help="print the panel rows of files (pure core, no lake)")
    ex.add_argument("files", nargs="+", metavar="FILE")
    ex.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ex.set_defaults(func=cmd_extract)

    sq = sub.add_parser("sql", help="DuckDB session (or --query) with a view per table of the lake")
    sq.add_argument("--lake", default="lake", help="lake root folder (default: lake/)")
    sq.add_argument("--query", "-q", help="run this SQL (one or more statements), print the last result")
    sq.add_argument("--format", choices=["table", "csv", "json", "markdown"], default="table")
    sq.set_defaults(func=cmd_sql)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
