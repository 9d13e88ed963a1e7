"""GX Data Docs (a static HTML site) of validation results, written into a folder it is given
(the flow hands that folder to the lake, which publishes it as <lake>/reports/data_docs/)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .gx import quiet_context
from .suites import load_suite

MARKER = "_gwr_suites.json"   # in a site: suite -> digest of the JSON its page was rendered from


def build_data_docs(results: list[tuple[str, str, dict]], out_dir: str | os.PathLike,
                    suites_dir: str | os.PathLike | None = None,
                    keep_from: str | os.PathLike | None = None) -> str:
    """GX Data Docs of validation results: (run_id, table, GX result as JSON) triples, e.g. from
    ValidationReport.gx_results of several runs. Writes a static site into out_dir (an index of
    the suites and of every result, a page per result) and returns the path of its index.html.
    The pages load their CSS and JS from CDNs (GX's templates): offline they are readable but
    unstyled.

    keep_from: the site as built before (e.g. by the last run). Its pages of results that are
    still listed are kept as they are -- a result never changes once written -- and only the
    pages it lacks are rendered, with the suites' pages and the index (pages of results no
    longer listed are dropped): a run renders its own results, not every run's again."""
    out = Path(out_dir).resolve()
    if keep_from and Path(keep_from).is_dir() and (Path(keep_from) / "index.html").is_file():
        shutil.copytree(keep_from, out, dirs_exist_ok=True)
    context = quiet_context()
    context.add_data_docs_site("gwr_lake", {
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    marker = out / MARKER
    rendered = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
    render = _add_suites(context, out, {t.split("#")[0] for _, t, _ in results}, suites_dir,
                         rendered)
    render += _add_results(context, out, results)
    if render or not (out / "index.html").is_file():
        # GX renders what `render` names (all of it when empty: a first site) and the index
        context.build_data_docs(site_names=["gwr_lake"], resource_identifiers=render or None)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(rendered, sort_keys=True), encoding="utf-8")
    return str(out / "index.html")


def _add_suites(context, site: Path, names: set[str], suites_dir, rendered: dict) -> list:
    """The suites into the context; -> the identifiers of those whose page must be rendered (its
    suite changed since, or no page). `rendered` (suite -> digest) is updated."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier)

    render = []
    for name in sorted(names):
        try:
            suite = load_suite(name, suites_dir)
        except FileNotFoundError:
            continue   # a result of a table whose suite is gone: the result page is still built
        context.suites.add(ExpectationSuite(**suite))
        digest = hashlib.sha256(json.dumps(suite, sort_keys=True).encode()).hexdigest()
        if rendered.get(name) != digest or not (site / "expectations" / f"{name}.html").is_file():
            render.append(ExpectationSuiteIdentifier(name=name))
            rendered[name] = digest
    return render


def _add_results(context, site: Path, results: list[tuple[str, str, dict]]) -> list:
    """The results into the site's store; -> the identifiers of those without a page yet."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier, ValidationResultIdentifier)

    store = context.validation_results_store
    render = []
    for run_id, table, raw in results:
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=table.split("#")[0]),
            run_id=RunIdentifier(run_name=run_id, run_time=_run_time(run_id)),
            batch_identifier=table.replace("#", "-"))
        try:
            # the result as GX stores it (its own JSON), without a load + dump through its schema;
            # read back (and checked) by GX when it renders the page or the index
            text = json.dumps(raw, indent=2, sort_keys=True)
            store.deserialize(text)
        except Exception:  # noqa: BLE001 - a result GX cannot read back (another version): skip it
            continue
        store.store_backend.set(key.to_tuple(), text)
        if not _page(site, key).is_file():
            render.append(key)
    return render


def _page(site: Path, key) -> Path:
    """Where GX's site puts the page of a validation result (validations/<suite>/<run name>/
    <run time>/<batch>.html)."""
    run_time = key.run_id.run_time.strftime("%Y%m%dT%H%M%S.%fZ")
    return (site / "validations" / key.expectation_suite_identifier.name / key.run_id.run_name
            / run_time / f"{key.batch_identifier}.html")


def _run_time(run_id: str):
    """The time a run id starts with (20260101T120000Z-...), else now (UTC)."""
    from datetime import datetime, timezone

    try:
        return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.now(timezone.utc)
