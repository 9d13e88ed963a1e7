"""Corpus generator for the benchmarks: N realistic reports built from the seeds.

Each generated report takes a real seed report as its frame (title line, address to the
deputies, review part, plan part), swaps in paragraphs of other seed reports of the same part,
renames the region (a real county-level name from flows/vocab/regions.csv), shifts the years and
perturbs every number a little. The reports are written `--per-file` to a file (default 10, like
the seeds' compilation), so N=2,000 is 200 files.

    python -m bench.generate --n 2000 --out /tmp/corpus2000 [--per-file 10] [--seed 1]
"""
from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

from flows.core.extract import plan_start
from flows.core.model import SourceItem
from flows.core.split import split_item

ROOT = Path(__file__).resolve().parent.parent
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_YEAR = re.compile(r"(?<!\d)(20[12]\d)(?=年)")


def seed_reports() -> list[dict]:
    """The 28 seed reports cut into title / review paragraphs / plan paragraphs."""
    out = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        item = SourceItem(path.name, 1, "txt", "utf-8", path.read_text(encoding="utf-8"))
        for r in split_item(item):
            if not r.is_report or not r.plan_year:
                continue
            cut = plan_start(r.text, r.plan_year)
            paras = lambda t: [p for p in t.split("\n") if len(p.strip()) > 30]  # noqa: E731
            out.append(dict(region=r.region, plan_year=r.plan_year, review=paras(r.text[:cut]),
                            plan=paras(r.text[cut:])))
    return out


def county_names() -> list[str]:
    rows = csv.DictReader((ROOT / "flows" / "vocab" / "regions.csv").open(encoding="utf-8"))
    return [r["name"] for r in rows if r["level"] in ("city", "county") and len(r["name"]) >= 3]


def _perturb(rng: random.Random, text: str) -> str:
    def one(m: re.Match) -> str:
        s = m.group(0)
        if len(s) == 4 and s.startswith("20"):
            return s   # years are shifted separately
        v = float(s) * rng.uniform(0.8, 1.25)
        decimals = len(s.split(".")[1]) if "." in s else 0
        return f"{v:.{decimals}f}"
    return _NUMBER.sub(one, text)


def make_report(rng: random.Random, frames: list[dict], names: list[str]) -> str:
    frame = rng.choice(frames)
    donor = rng.choice(frames)
    region = rng.choice(names)
    shift = rng.randint(-8, 3)
    review = list(frame["review"])
    plan = list(frame["plan"])
    # recombine: swap up to a third of the paragraphs with the donor's of the same part
    for part, other in ((review, donor["review"]), (plan, donor["plan"])):
        for _ in range(len(part) // 3):
            if other:
                part[rng.randrange(len(part))] = rng.choice(other)
    plan_year = frame["plan_year"] + shift
    body = "\n".join([f"{plan_year}年{region}政府工作报告", "各位代表:",
                      f"一、{plan_year - 1}年工作回顾", *review,
                      f"二、{plan_year}年工作安排", *plan])
    body = body.replace(frame["region"] or "@@", region)
    body = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), body)
    return _perturb(rng, body)


def generate(n: int, out: Path, per_file: int = 10, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    frames, names = seed_reports(), county_names()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, n, per_file):
        k = min(per_file, n - start)
        text = "\n".join(make_report(rng, frames, names) for _ in range(k))
        path = out / f"gen_{start // per_file:05d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-file", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    paths = generate(a.n, a.out, a.per_file, a.seed)
    print(f"{a.n} reports in {len(paths)} files under {a.out}")


if __name__ == "__main__":
    main()
