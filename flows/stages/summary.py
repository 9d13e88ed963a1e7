"""A run's summary, made once from the stages' results when the run ends: what the command line
prints, what the manifest records, what the Prefect artifacts show."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    source: str
    lake: str
    started_at: str
    finished_at: str
    status: str                        # published | nothing_new | failed_validation | failed
    code_version: str
    inputs: list = field(default_factory=list)          # {source_name, sha256, bytes, items, new_in_bronze}
    quarantined: list = field(default_factory=list)     # quarantine records of this run
    stages: dict = field(default_factory=dict)          # reports, debris lines, mentions, panel rows
    batch: dict = field(default_factory=dict)           # table -> rows this run staged
    work: dict = field(default_factory=dict)            # sources, processed, unchanged, chunks, ...
    validation: dict = field(default_factory=dict)      # success, summary, tables, json, markdown
    bi: dict = field(default_factory=dict)              # regions, rows, validation
    published: dict = field(default_factory=dict)       # table -> rows at its new version
    versions: dict = field(default_factory=dict)        # table -> version of the set this run left
    published_at: str | None = None    # when its set became the current one (`flows sql --as-of TIME`)
    committed: list = field(default_factory=list)       # tables this run changed
    conflicts: list = field(default_factory=list)       # metadata conflicts of vendor rows
    corrected: list = field(default_factory=list)       # analysts' corrections applied
    corrections_unmatched: list = field(default_factory=list)   # corrections that match nothing
    report: str | None = None
    manifest: str | None = None
    upgraded_from: str | None = None   # where an old-layout lake's tables were moved
    seconds: dict = field(default_factory=dict)         # when each stage ended, from the run's start
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def format_summary(s: dict) -> str:
    """A short Markdown summary of a run (printed by the CLI, shown in the UI)."""
    b, p, w, st = s.get("batch") or {}, s.get("published") or {}, s.get("work") or {}, s.get("stages") or {}
    lines = [f"## gwr-lake run {s['run_id']}: {s.get('status')}", "",
             f"- source: {s['source']} ({len(s.get('inputs') or [])} file(s) read, "
             f"{sum(1 for i in s.get('inputs') or [] if i.get('new_in_bronze'))} new in bronze)"]
    if w:
        lines.append(f"- work: {w.get('processed', 0)} source(s) processed in {w.get('chunks', 0)} chunk(s), "
                     f"{w.get('unchanged', 0)} unchanged in the lake (code version {s.get('code_version')}); "
                     f"validation {w.get('validation', 'not run')}; tables committed: "
                     f"{', '.join(s.get('committed') or []) or 'none'}")
    if st:
        lines.append(f"- stages: {st.get('reports', 0)} report(s), {st.get('debris_lines_removed', 0)} debris "
                     f"line(s) removed, {st.get('mentions', 0)} mention(s), {st.get('panel_rows', 0)} panel row(s)")
    if s.get("upgraded_from"):
        lines.append(f"- upgraded: the lake's previous tables were rebuilt from bronze as Delta tables; the "
                     f"old ones are kept at {s['upgraded_from']}")
    lines += ["", "| layer | table | this run | in the lake |", "|---|---|---|---|",
              f"| bronze | source_items | {b.get('source_items', 0)} | |"]
    for layer, table in (("silver", "reports"), ("gold", "indicator_mentions"), ("gold", "indicator_panel"),
                         ("gold", "indicator_wide"), ("gold", "target_attainment")):
        lines.append(f"| {layer} | {table} | {b.get(table, 0)} | {p.get(table, '-')} |")
    val = s.get("validation") or {}
    lines += ["", f"- validation: {val.get('summary', 'not run')}"]
    if (s.get("bi") or {}).get("validation"):
        lines.append(f"- BI tables: {s['bi']['validation'].get('summary')}")
    lines.append(f"- quarantined: {len(s.get('quarantined') or [])}")
    for q in (s.get("quarantined") or [])[:20]:
        lines.append(f"  - {q['source_name']} ({q['stage']}): {q['reason'][:200]}")
    if s.get("conflicts"):
        lines.append(f"- metadata conflicts (the text wins; reports.metadata_conflicts): {len(s['conflicts'])}")
        for c in s["conflicts"][:20]:
            lines.append(f"  - {c}")
    if s.get("corrected"):
        lines.append(f"- corrections applied (corrections.csv): {len(s['corrected'])}")
        lines += [f"  - {c}" for c in s["corrected"][:20]]
    if s.get("corrections_unmatched"):
        lines.append(f"- corrections that match nothing (remove or fix them): {len(s['corrections_unmatched'])}")
        lines += [f"  - {c}" for c in s["corrections_unmatched"][:20]]
    if s.get("error"):
        lines.append(f"- error: {s['error'][:500]}")
    if s.get("versions"):
        lines.append("- versions: " + ", ".join(f"{t} v{v}" for t, v in sorted(s["versions"].items())))
    lines += [f"- lake: {s.get('lake', '')}", f"- manifest: {s.get('manifest') or '-'}"]
    if s.get("report"):
        lines.append(f"- report: {s['report']}")
    return "\n".join(lines)
