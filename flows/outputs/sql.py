"""DuckDB views over every table of a lake: `python -m flows sql [--lake DIR] [--as-of ...]`.

One view per table of flows/schemas.py, with the schema's columns in order. The Delta tables
(silver and gold) are read through the list of Parquet files of one consistent set of versions
(the current publish, or --as-of a tag, a run, a time, a version): never a glob over a table's
folder, which would also see removed files and Delta's checkpoints. The gold tables are
partitioned by year (hive), so `where year = 2023` reads only that year's files.

Two more ways to the same views, for tools without the project:
- <lake>/lake.duckdb, rewritten at each publish: views over the live files with paths relative
  to the lake folder (open it from there: `cd lake && duckdb lake.duckdb`, or set DuckDB's
  file_search_path to the lake), so it works wherever the lake folder is copied;
- sql/views.sql, views through DuckDB's Delta extension (delta_scan), with ${LAKE} for the lake
  root (`python -m flows.outputs.sql > sql/views.sql` regenerates it; a test checks it).
"""
from __future__ import annotations

import os
import sys

import pyarrow as pa

from ..schemas import DELTA_TABLES, TABLES

PLACEHOLDER = "${LAKE}"
DUCKDB_FILE = "lake.duckdb"

_DUCK_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
               pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN",
               pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ"}


def _cols(table: str, width: int = 96) -> str:
    """The table's columns, quoted, wrapped into lines of about `width` characters."""
    lines, line = [], ""
    for name in TABLES[table][1].names:
        item = f'"{name}", '
        if line and len(line) + len(item) > width:
            lines.append(line.rstrip())
            line = ""
        line += item
    lines.append(line.rstrip().rstrip(","))
    return "\n         ".join(lines)


def _q(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _source(table: str, files: list[str]) -> str:
    """read_parquet over a table's files (hive partitions typed as the schema says)."""
    _, schema, part = TABLES[table]
    opts = ", union_by_name = true"
    if part:
        opts += f", hive_partitioning = true, hive_types = {{'{part}': '{_DUCK_TYPES[schema.field(part).type]}'}}"
    listed = ",\n    ".join(_q(f) for f in files)
    return f"read_parquet([\n    {listed}]{opts})"


def files_view_sql(table: str, files: list[str], have: set[str] | None = None) -> str:
    """CREATE VIEW <table> over these Parquet files (an empty view when there are none); a
    column of the schema the files do not have yet (`have`: the columns they have) is null."""
    if not files:
        return empty_view_sql(table)
    cols = _cols(table)
    if have is not None and not set(TABLES[table][1].names) <= have:
        cols = ", ".join(f'"{f.name}"' if f.name in have else f'CAST(NULL AS {_DUCK_TYPES[f.type]}) AS "{f.name}"'
                         for f in TABLES[table][1])
    return f"CREATE OR REPLACE VIEW {table} AS\n  SELECT {cols}\n  FROM {_source(table, files)};"


def empty_view_sql(table: str) -> str:
    """CREATE VIEW <table> with the table's columns and no row (a table not written yet)."""
    cols = ", ".join(f'CAST(NULL AS {_DUCK_TYPES[f.type]}) AS "{f.name}"' for f in TABLES[table][1])
    return f"CREATE OR REPLACE VIEW {table} AS\n  SELECT {cols}\n  WHERE false;"


def table_files(lake, versions: dict, relative: bool = False) -> dict[str, tuple[list[str], set | None]]:
    """Every table's files as of `versions` and the columns they have (None: all of the
    schema's): Delta tables' active files, bronze and quarantine files. relative: paths from the
    lake root (for the lake's own DuckDB file)."""
    out = {}
    for table in TABLES:
        layer = TABLES[table][0]
        have = None
        if table in DELTA_TABLES:
            v = versions.get(table)
            files = [f"{layer}/{table}/{f}" for f in lake.tables.files(table, v)] if v is not None else []
            have = lake.tables.columns(table, v) if v is not None else None
        elif table == "quarantine":
            files = [f"quarantine/{n}" for n in lake.storage.list("quarantine", suffix=".parquet")]
        else:
            files = [f"bronze/source_items/{n}" for n in lake.storage.list("bronze", "source_items", suffix=".parquet")]
        out[table] = (files if relative else [lake.storage.uri(*f.split("/")) for f in files], have)
    return out


def connect(lake_root: str | os.PathLike = "lake", as_of: str | None = None, database: str = ":memory:"):
    """A DuckDB connection with a view per table of the lake as of `as_of` (the current set by
    default; flows/lake/versions.py says what it may be). Returns (connection, {table: 'files' |
    'empty'}, the versions read)."""
    import duckdb

    from ..lake import Lake
    from ..lake.errors import LakeError
    from ..lake.storage import is_url
    from ..lake.versions import resolve

    if is_url(str(lake_root)):
        raise LakeError(f"{lake_root}: `flows sql` reads a local lake; on object storage open the tables "
                        "with deltalake, or DuckDB's delta_scan (docs/bi.md)")
    if not os.path.isdir(lake_root):
        raise LakeError(f"no lake at {os.path.abspath(lake_root)} (run `python -m flows run` first)")
    lake = Lake(lake_root)
    versions = resolve(lake, as_of)
    con = duckdb.connect(database)
    state = {}
    for table, (files, have) in table_files(lake, versions).items():
        con.execute(files_view_sql(table, files, have))
        state[table] = "files" if files else "empty"
    return con, state, versions


def write_duckdb(lake) -> str | None:
    """<lake>/lake.duckdb: views over the current set's files, paths relative to the lake folder.
    Written to a temporary file and moved into place (a reader never opens half a file). None
    for a lake on object storage: there is no folder to open it from, and DuckDB binds a view's
    files when it is made (sql/views.sql's delta_scan, with the httpfs extension, reads such a
    lake)."""
    import tempfile

    import duckdb

    from ..lake.versions import resolve

    if lake.storage.url:
        return None
    versions = resolve(lake, None)
    with tempfile.TemporaryDirectory(prefix="gwr-duckdb-") as tmp:
        path = os.path.join(tmp, DUCKDB_FILE)
        con = duckdb.connect(path)
        try:   # the views are bound here against the lake folder; their paths stay relative
            con.execute(f"SET file_search_path = {_q(lake.storage.root)}")
            for table, (files, have) in table_files(lake, versions, relative=True).items():
                con.execute(files_view_sql(table, files, have))
        finally:
            con.close()
        with open(path, "rb") as fh:
            lake.storage.write_bytes(fh.read(), DUCKDB_FILE)
    return lake.storage.link(DUCKDB_FILE)


def delta_view_sql(table: str, root: str = PLACEHOLDER) -> str:
    """CREATE VIEW <table> through DuckDB's Delta extension (for sql/views.sql)."""
    layer = TABLES[table][0]
    root = root.rstrip("/").replace("'", "''")
    if table in DELTA_TABLES:
        src = f"delta_scan('{root}/{layer}/{table}')"
    elif table == "quarantine":
        src = f"read_parquet('{root}/quarantine/*.parquet', union_by_name = true)"
    else:
        src = f"read_parquet('{root}/bronze/source_items/*.parquet', union_by_name = true)"
    return f"CREATE OR REPLACE VIEW {table} AS\n  SELECT {_cols(table)}\n  FROM {src};"


def views_sql() -> str:
    """The content of sql/views.sql."""
    head = [
        "-- gwr-lake: DuckDB views over every table of a lake, through DuckDB's Delta extension.",
        "-- Generated by `python -m flows.outputs.sql > sql/views.sql`; do not edit (a test checks it).",
        f"-- {PLACEHOLDER} stands for the lake root, an absolute path or s3:// URL, e.g.",
        "--   LOAD delta;   (online), or offline with DuckDB 1.5 and the duckdb-extension-delta wheel:",
        "--   LOAD '<site-packages>/duckdb_extension_delta/extensions/v1.5.5/delta.duckdb_extension';",
        "--   sed \"s#\\${LAKE}#$PWD/lake#g\" sql/views.sql | duckdb",
        "-- Without the extension, open <lake>/lake.duckdb instead (views over the live files).",
        "-- A view of a table with no file yet (quarantine, before anything was quarantined) fails.",
        "-- delta_scan reads each table's latest version; `python -m flows sql` reads one consistent set.",
        "",
    ]
    return "\n".join(head + [delta_view_sql(t) + "\n" for t in TABLES])


# ---- command line ------------------------------------------------------------------------
def run_sql(con, sql: str, fmt: str = "table", out=None) -> None:
    """Run one or more statements; print the result of the last one (if it has rows)."""
    out = out or sys.stdout
    rel = con.sql(sql)
    if rel is None:
        return
    if fmt == "table":
        out.write(render(rel) + "\n")
        return
    df = rel.df()
    if fmt == "csv":
        df.to_csv(out, index=False)
    elif fmt == "json":
        out.write(df.to_json(orient="records", force_ascii=False, indent=1) + "\n")
    else:  # markdown
        out.write("| " + " | ".join(map(str, df.columns)) + " |\n|" + "---|" * len(df.columns) + "\n")
        for row in df.itertuples(index=False):
            out.write("| " + " | ".join("" if v is None or v != v else str(v) for v in row) + " |\n")


def render(rel) -> str:
    """DuckDB's box rendering of a result, every row (up to 10,000) and column shown."""
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        rel.show(max_rows=10_000, max_width=100_000)
    return buf.getvalue().rstrip("\n")


def repl(con, state: dict, fmt: str = "table") -> int:
    """A small interactive session: statements end with ';', .tables lists the views, .quit
    (or Ctrl-D) leaves."""
    import duckdb

    try:
        import readline  # noqa: F401  - line editing and history when available
    except ImportError:
        pass
    tty = sys.stdin.isatty()
    if tty:
        print("gwr-lake SQL (DuckDB). Views: " + ", ".join(
            t + ("" if s == "files" else " (empty)") for t, s in state.items()))
        print("End statements with ';'. .tables lists the views, .quit leaves.")
    buf: list[str] = []
    while True:
        try:
            line = input(("gwr-lake> " if not buf else "     ...> ") if tty else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            print()
            buf = []
            continue
        cmd = line.strip()
        if not buf and cmd in (".quit", ".exit", "\\q"):
            break
        if not buf and cmd == ".tables":
            print("\n".join(f"{t}{'' if s == 'files' else ' (empty)'}" for t, s in state.items()))
            continue
        buf.append(line)
        if cmd.endswith(";"):
            try:
                run_sql(con, "\n".join(buf), fmt)
            except duckdb.Error as e:
                print(f"error: {e}", file=sys.stderr)
            buf = []
    if "".join(buf).strip():
        try:
            run_sql(con, "\n".join(buf), fmt)
        except duckdb.Error as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


def main(args) -> int:
    """`python -m flows sql`: args.lake, args.as_of, args.query, args.format. Errors opening the
    lake are raised (the command line prints them as one line)."""
    import duckdb

    con, state, _versions = connect(args.lake, getattr(args, "as_of", None))
    if args.query is not None:
        try:
            run_sql(con, args.query, args.format)
        except duckdb.Error as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    return repl(con, state, args.format)


if __name__ == "__main__":
    sys.stdout.write(views_sql())
