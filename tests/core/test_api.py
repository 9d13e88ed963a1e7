"""`from flows import extract` and `python -m flows extract`: the pure core, no Prefect, no lake."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from conftest import REPO, SEEDS

SEED = SEEDS / "000_c9b0bbd917161d38.txt"


def run_py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_extract_api_does_not_load_prefect_or_gx():
    code = f"""
import sys, flows
from pathlib import Path
df = flows.extract(Path({str(SEED)!r}).read_text(encoding="utf-8"))
from flows.core.model import PanelRow, column_names
assert list(df.columns) == column_names(PanelRow), list(df.columns)
assert len(df) > 5 and (df["indicator"] == "gdp").any()
heavy = [m for m in ("prefect", "great_expectations") if m in sys.modules]
assert not heavy, heavy
print(len(df))
"""
    r = run_py(code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.strip()) > 5


def test_extract_cli_formats():
    base = [sys.executable, "-m", "flows", "extract", str(SEED)]
    out = subprocess.run(base + ["--format", "csv"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and rows[0]["source_name"] == SEED.name and rows[0]["doc_index"] == "1"
    out = subprocess.run(base + ["--format", "json"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert len(json.loads(out.stdout)) == len(rows)
    out = subprocess.run(base, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0 and "gdp" in out.stdout


def test_extract_cli_loads_no_prefect(tmp_path):
    r = run_py(f"""
import sys
from flows.__main__ import main
code = main(["extract", {str(SEED)!r}, "--format", "json"])
assert code == 0 and "prefect" not in sys.modules, code
""")
    assert r.returncode == 0, r.stderr[-2000:]


def test_extract_cli_reports_a_bad_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "flows", "extract", str(bad), str(SEED), "--format", "csv"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 1 and "bad.jsonl" in out.stderr
    assert SEED.name in out.stdout  # the good file is still extracted
