"""Accuracy of the pure core against hand labels: the seeds, six reports of the extra corpus
labelled first (tests/data/corpus_indicators.csv) and the 56 reports of the dev set labelled and
re-checked by two readers (tests/data/dev_indicators.csv: provinces 2025 and 2026, State Council,
海拉尔区, the vendor workbook's 保定 counties). The goal of issue 23 is 0.99 precision and 0.98
recall on each set. tests/data/heldout_indicators.csv holds 14 more vendor rows (2010-2022,
two of them another county's report) labelled and re-checked the same way after the rules were
written, and scored before any change: the estimate of accuracy on reports nobody tuned to.
Its bar is the issue's goal for county reports nobody tuned to (0.97 / 0.93)."""
from helpers import CORPUS, DATA, SEEDS, score_files


def test_seeds_precision_recall_and_fields():
    s = score_files(DATA / "seeds_indicators.csv", sorted(SEEDS.glob("*.txt")))
    assert s.overall.precision >= 0.99, s.overall
    assert s.overall.recall >= 0.98, s.overall
    for name, (right, total) in s.field_accuracy.items():
        assert right / total >= 0.99, (name, right, total)


def test_labelled_corpus_reports():
    files = ["prov2026_hunan.csv", "prov2026_xizang.csv", "national_2010_2023.jsonl",
             "hailar_2013.txt", "hailar_2014.txt"]
    s = score_files(DATA / "corpus_indicators.csv", [CORPUS / f for f in files])
    assert s.overall.precision >= 0.99, s.overall
    assert s.overall.recall >= 0.98, s.overall


def test_dev_set():
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".csv", ".jsonl", ".txt", ".docx", ".xlsx"))
    s = score_files(DATA / "dev_indicators.csv", files)
    assert s.overall.precision >= 0.99, s.overall
    assert s.overall.recall >= 0.98, s.overall
    for name, (right, total) in s.field_accuracy.items():
        assert right / total >= 0.98, (name, right, total)


def test_heldout_vendor_rows():
    s = score_files(DATA / "heldout_indicators.csv", [CORPUS / "vendor" / "baoding_counties_dev.xlsx"])
    assert s.overall.precision >= 0.97, s.overall
    assert s.overall.recall >= 0.93, s.overall
