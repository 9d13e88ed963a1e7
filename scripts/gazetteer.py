"""Regenerate flows/vocab/regions.csv, the gazetteer, from its source: the table of China's
administrative divisions (2020 codes) that the PyPI package cpca ships, cpca/resources/adcodes.csv
(MIT License, Copyright (c) 2018 QinYuan Du). Rows below county level are dropped and each county
gets its prefecture and province; the source and its date go to flows/vocab/sources.csv.

    python scripts/gazetteer.py            # downloads cpca==0.5.5 with pip into a temporary folder
    python scripts/gazetteer.py --adcodes path/to/adcodes.csv
"""
from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import zipfile
from datetime import date
from pathlib import Path

VOCAB = Path(__file__).resolve().parent.parent / "flows" / "vocab"
CPCA = "cpca==0.5.5"
SOURCE_DATE = "2020"   # the codes' year in cpca 0.5.5


def _download() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, CPCA], check=True)
        wheel = next(Path(tmp).glob("cpca-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            return zf.read("cpca/resources/adcodes.csv").decode("utf-8")


PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def build(adcodes_csv: str) -> list[dict]:
    rows = {}
    for r in csv.DictReader(io.StringIO(adcodes_csv)):
        code = r["adcode"][:6]
        if r["adcode"][6:].strip("0"):
            continue                       # below county level
        rows[code] = r["name"]
    out = []
    for code in sorted(rows):
        name = rows[code]
        if name in PLACEHOLDERS:
            continue                       # a grouping of the code table, not a place
        prov = rows.get(code[:2] + "0000", "")
        if code.endswith("0000"):
            level, city = "province", ""
        elif code.endswith("00"):
            level, city = "city", ""
        else:
            level = "county"
            city = rows.get(code[:4] + "00", "")
            if city in PLACEHOLDERS:       # a municipality's district, a county under the province
                city = prov if prov.endswith("市") else ""
        out.append({"adcode": code, "name": name, "level": level, "city": city, "province": prov})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adcodes", help="a local copy of cpca/resources/adcodes.csv")
    args = ap.parse_args()
    text = Path(args.adcodes).read_text(encoding="utf-8") if args.adcodes else _download()
    rows = build(text)
    with open(VOCAB / "regions.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ["adcode", "name", "level", "city", "province"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    sources = VOCAB / "sources.csv"
    kept = [r for r in csv.DictReader(sources.open(encoding="utf-8"))] if sources.exists() else []
    kept = [r for r in kept if r["file"] != "regions.csv"]
    kept.append({"file": "regions.csv", "source": f"{CPCA} cpca/resources/adcodes.csv",
                 "source_date": SOURCE_DATE, "generated": date.today().isoformat(),
                 "generated_by": "scripts/gazetteer.py"})
    with open(sources, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ["file", "source", "source_date", "generated", "generated_by"], lineterminator="\n")
        w.writeheader()
        w.writerows(kept)
    print(f"gazetteer: {len(rows)} divisions -> {VOCAB / 'regions.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
