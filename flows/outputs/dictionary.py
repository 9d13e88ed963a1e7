"""The data dictionary, docs/data-dictionary.md, written from the schemas' metadata.

`python -m flows.outputs.dictionary > docs/data-dictionary.md` regenerates it; a test checks that
the shipped file is current.
"""
from __future__ import annotations

from flows.schemas import DELTA_TABLES, KEYS, TABLES


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def data_dictionary() -> str:
    """Markdown data dictionary generated from the schemas (docs/data-dictionary.md)."""
    out = ["# gwr-lake data dictionary", "",
           "Generated from `flows/schemas.py` by `python -m flows.outputs.dictionary > docs/data-dictionary.md`;",
           "do not edit by hand (tests/outputs/test_outputs_sql.py fails when this file is not current).",
           "Paths are relative to the lake root (`lake/` by default). Units: yuan, usd (a figure",
           "stated in 美元), percent, person, tonne; growth rates are percent on the year before.",
           "",
           "| table | layer | contents | key |", "|---|---|---|---|"]
    for name, (layer, sch, part) in TABLES.items():
        desc = sch.metadata[b"description"].decode().split(":", 1)[-1].strip()
        desc = desc.split(". ")[0].rstrip(".")
        key = ", ".join(KEYS.get(name, ())) or "-"
        out.append(f"| [{name}](#{layer}{name}) | {layer} | {_cell(desc)} | {key} |")
    out.append("")
    for name, (layer, sch, part) in TABLES.items():
        folder = layer if name == "quarantine" else f"{layer}/{name}"
        if name in DELTA_TABLES:
            where = (f"Delta table `{folder}/`" + (f", partitioned by `{part}` (a reader filtering on {part} "
                                                    f"reads only that {part}'s files)." if part else "."))
        elif name == "source_items":
            where = f"Files: `{folder}/<sha256>.parquet`, one per source file content (append-only)."
        else:
            where = f"Files: `{folder}/<run_id>-<stage>.parquet` (append-only)."
        out += [f"## {layer}/{name}", "", sch.metadata[b"description"].decode(), "", where, ""]
        if name in KEYS:
            out += [f"One row per ({', '.join(KEYS[name])}).", ""]
        out += ["| column | type | null | unit | description | example |",
                "|---|---|---|---|---|---|"]
        for f in sch:
            meta = f.metadata or {}
            desc = _cell(meta[b"description"].decode())
            unit = _cell(meta.get(b"unit", b"").decode())
            ex = meta.get(b"example")
            ex = f"`{_cell(ex.decode())}`" if ex else ""
            out.append(f"| {f.name} | {f.type} | {'yes' if f.nullable else 'no'} | {unit} | "
                       f"{desc} | {ex} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(data_dictionary())
