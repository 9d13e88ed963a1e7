"""Command line: python -m flows {run, serve, sql, history, tag, vacuum, evaluate, extract}.

    run       the whole flow on a source into a lake (Prefect)
    serve     a scheduled deployment of the flow (blocks; Ctrl-C stops)
    sql       DuckDB views over the lake (--as-of a version, a time, a run or a tag)
    history   every table's versions, with their runs, times, rows and tags
    tag       name the current set of versions (for a paper, a dashboard release)
    vacuum    compact small files, then remove files older than the retention (tags are kept)
    evaluate  score the lake's panel against reference labels
    extract   the pure core on files, no lake

A failure prints one line saying what happened and what to do; the details go to the log file
named on that line. Heavy libraries are imported by the command that needs them only.
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOG = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gwr-lake" / "cli.log"


def _default_source() -> str:
    return "seeds" if Path("seeds").is_dir() else str(REPO / "seeds")


def _is_url(source: str) -> bool:
    return "://" in source


def _settings(args, **extra):
    from .settings import Settings

    return Settings.from_env(source=getattr(args, "source", None) or _default_source(), lake=args.lake,
                             expectations=getattr(args, "expectations", None),
                             task_runner=getattr(args, "task_runner", None),
                             dask_address=getattr(args, "dask_address", None), **extra)


def cmd_run(args) -> int:
    settings = _settings(args)
    if not _is_url(settings.source) and not Path(settings.source).exists():
        return _fail(f"source not found: {settings.source} (a folder, a file, a URL or a source list)", 2)
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from .flow import gwr_lake
    from .runtime import runners
    from .stages.summary import format_summary

    flow = gwr_lake
    if settings.task_runner != "thread" or settings.dask_address:
        flow = gwr_lake.with_options(task_runner=runners.make(
            "dask" if settings.dask_address else settings.task_runner, settings.dask_address))
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = flow(settings=settings, return_state=True)
    if state.is_completed():
        print()
        print(format_summary(state.result()))
        return 0
    return _explain(state.result(raise_on_failure=False), state.message)


def cmd_serve(args) -> int:
    from .serve import serve

    settings = _settings(args)
    source = settings.source if _is_url(settings.source) else str(Path(settings.source).resolve())
    lake = settings.lake if _is_url(settings.lake) else str(Path(settings.lake).resolve())
    return serve(settings.model_copy(update={"source": source, "lake": lake}), name=args.name,
                 cron=args.cron, timezone=args.timezone)


def cmd_sql(args) -> int:
    from .outputs.sql import main as sql_main

    return sql_main(args)


def cmd_history(args) -> int:
    from .lake import Lake
    from .lake.versions import history

    rows = history(Lake(args.lake))
    if not rows:
        print(f"no table in {args.lake} yet (run `python -m flows run` first)")
        return 0
    cols = ("table", "version", "time", "operation", "run_id", "rows", "rows_added", "rows_removed", "tags")
    widths = {c: max(len(c), *(len(str(r.get(c) if r.get(c) is not None else "")) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c) if r.get(c) is not None else "").ljust(widths[c]) for c in cols))
    return 0


def cmd_tag(args) -> int:
    from .lake import Lake
    from .lake.versions import tag

    done = tag(Lake(args.lake), args.name, args.as_of, args.note or "")
    print(f"tag {args.name}: " + ", ".join(f"{t} v{v}" for t, v in sorted(done["versions"].items())))
    return 0


def cmd_vacuum(args) -> int:
    from .lake import Lake
    from .lake.versions import compact, vacuum

    days = args.retention_days if args.retention_days is not None else _settings(args).retention_days
    lake = Lake(args.lake)
    if not args.dry_run and not args.no_compact:
        for table, n in compact(lake).items():
            if n:
                print(f"{table}: compacted {n} file(s)")
    removed = vacuum(lake, days, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for table, files in removed.items():
        print(f"{table}: {verb} {len(files)} file(s)")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import main as evaluate_main

    return evaluate_main(args)


def cmd_extract(args) -> int:
    from . import extract_items
    from .core.model import SourceError
    from .core.read import expand_source, read_items

    items, failed = [], 0
    for f in args.files:
        p = Path(f)
        try:
            members, errors = expand_source(p.name, p.read_bytes())
            for e in errors:
                print(f"error: {getattr(e, 'source_name', f)}: {e}", file=sys.stderr)
            for name, data in members:
                items += read_items(name, data)
        except (OSError, SourceError) as e:
            print(f"error: {f}: {e}", file=sys.stderr)
            failed += 1
    df = extract_items(items)
    if args.format == "csv":
        df.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(df.to_json(orient="records", force_ascii=False, indent=1) + "\n")
    else:
        import pandas as pd

        cols = ["source_name", "doc_index", "region", "indicator", "kind", "measure", "year", "value",
                "value_high", "unit", "qualifier", "estimate", "quote"]
        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                               "display.max_colwidth", 40, "display.float_format", "{:g}".format):
            print(df[cols].to_string(index=False) if len(df) else "(no panel rows)")
    return 1 if failed else 0


# ---- errors a person can read ---------------------------------------------------------------
def _log_details(exc: BaseException | None, message: str) -> str:
    try:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(LOG, encoding="utf-8")
        log = logging.getLogger("flows.cli.details")
        log.propagate = False   # the file only: the console has its one line, printed by main
        log.addHandler(handler)
        log.error("%s", message, exc_info=(type(exc), exc, exc.__traceback__) if exc else None)
        log.removeHandler(handler)
        handler.close()
        return str(LOG)
    except OSError:
        return "(no log: the cache folder is not writable)"


def explain(exc: BaseException | None, fallback: str = "") -> str:
    """One line for a person: what happened and what to do."""
    from .lake.errors import LakeBusy, LakeError, LakeUrlError

    name = type(exc).__name__ if exc else ""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full: free space where the lake is (or point --lake elsewhere) and run again"
    if isinstance(exc, PermissionError):
        return f"permission denied on {exc.filename or 'a file'}: give this user write access to the lake " \
               "(or point --lake elsewhere) and run again"
    if isinstance(exc, LakeBusy):
        return f"{exc}: wait for that run to finish, or stop it, and run again"
    if isinstance(exc, LakeUrlError):
        return f"{exc}: check the lake's address (a folder, or s3://bucket/prefix with AWS_* credentials)"
    if isinstance(exc, LakeError):
        return str(exc)
    if name in ("InputError", "FileNotFoundError"):
        return f"{exc}: check --source"
    if name == "RunFailed":
        return f"{exc}"
    return f"{name + ': ' if name else ''}{exc if exc else fallback}"


def _explain(exc, fallback: str = "") -> int:
    line = explain(exc if isinstance(exc, BaseException) else None, fallback)
    where = _log_details(exc if isinstance(exc, BaseException) else None, line)
    print(f"\nFAILED: {line} (details: {where})", file=sys.stderr)
    return 1


def _fail(line: str, code: int) -> int:
    print(f"error: {line}", file=sys.stderr)
    return code


# ---- arguments -------------------------------------------------------------------------------
def _lake_arg(p) -> None:
    p.add_argument("--lake", default="lake", help="the lake: a folder, or an fsspec URL such as "
                                                  "s3://bucket/prefix (default: lake/)")


def _flow_args(p) -> None:
    p.add_argument("--source", help="a folder, a file, an http(s) URL, an fsspec URL or a source list "
                                    "(.csv / .yaml) to read (default: seeds/)")
    _lake_arg(p)
    p.add_argument("--expectations", help="folder of GX suites (default: the repo's expectations/)")
    p.add_argument("--task-runner", choices=["thread", "dask"], help="threads (default) or Dask")
    p.add_argument("--dask-address", help="an existing Dask scheduler (tcp://host:8786)")


def _flow_commands(sub) -> None:
    run = sub.add_parser("run", help="run the whole flow: source -> bronze/silver/gold in the lake")
    _flow_args(run)
    run.set_defaults(func=cmd_run)

    srv = sub.add_parser("serve", help="serve a scheduled deployment of the flow (blocks; Ctrl-C stops)")
    _flow_args(srv)
    srv.add_argument("--cron", default="0 6 * * *", help="schedule (default: daily at 06:00)")
    srv.add_argument("--timezone", default="UTC", help="time zone of the cron (default UTC)")
    srv.add_argument("--name", default="gwr-lake-daily", help="deployment name (default gwr-lake-daily)")
    srv.set_defaults(func=cmd_serve)


def _lake_commands(sub) -> None:
    sq = sub.add_parser("sql", help="DuckDB session (or --query) with a view per table of the lake")
    _lake_arg(sq)
    sq.add_argument("--as-of", help="read the lake as it was: a version of indicator_panel, an ISO time, "
                                    "a run id or a tag (default: the current set)")
    sq.add_argument("--query", "-q", help="run this SQL (one or more statements), print the last result")
    sq.add_argument("--format", choices=["table", "csv", "json", "markdown"], default="table")
    sq.set_defaults(func=cmd_sql)

    hi = sub.add_parser("history", help="every table's versions: run, time, rows added / removed, tags")
    _lake_arg(hi)
    hi.set_defaults(func=cmd_history)

    tg = sub.add_parser("tag", help="name a set of versions (the current one by default)")
    tg.add_argument("name", help="letters, digits, . _ - (e.g. paper-2026-spring)")
    _lake_arg(tg)
    tg.add_argument("--as-of", help="the set to name (a version, a time, a run id; default: the current)")
    tg.add_argument("--note", help="what the tag is for")
    tg.set_defaults(func=cmd_tag)

    va = sub.add_parser("vacuum", help="remove table files no version within the retention needs "
                                       "(tagged versions are always kept)")
    _lake_arg(va)
    va.add_argument("--retention-days", type=float, help="keep every version younger than this (default 30)")
    va.add_argument("--dry-run", action="store_true", help="list what would be removed")
    va.add_argument("--no-compact", action="store_true", help="do not rewrite small files into large ones first")
    va.set_defaults(func=cmd_vacuum)


def _tool_commands(sub) -> None:
    ev = sub.add_parser("evaluate", help="score the lake's gold panel against a reference CSV")
    ev.add_argument("--gold", required=True, help="reference CSV (format of seeds_indicators.csv)")
    _lake_arg(ev)
    ev.add_argument("--min-precision", type=float, help="exit 1 when precision is below this")
    ev.add_argument("--min-recall", type=float, help="exit 1 when recall is below this")
    ev.add_argument("--max-list", type=int, default=50, help="misses / false positives listed (default 50)")
    ev.add_argument("--json", dest="json_out", help="also write the scores as JSON to this file")
    ev.set_defaults(func=cmd_evaluate)

    ex = sub.add_parser("extract", help="print the panel rows of files (pure core, no lake)")
    ex.add_argument("files", nargs="+", metavar="FILE")
    ex.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ex.set_defaults(func=cmd_extract)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m flows", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    _flow_commands(sub)
    _lake_commands(sub)
    _tool_commands(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:          # the reader went away (`| head`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - one readable line; the details to the log
        return _explain(exc)
