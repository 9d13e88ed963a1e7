"""Shared fixtures. Prefect runs against one temporary server (prefect_test_harness) per session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
GOLD_CSV = REPO / "tests" / "data" / "seeds_indicators.csv"


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server and database for the whole session; yields its API URL.
    Heartbeats are off (each flow run would otherwise wait ~1 s for its heartbeat thread)."""
    from prefect.settings import (PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
                                  temporary_settings)
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        # the harness drains the log and event workers before it stops its server
        with prefect_test_harness(server_startup_timeout=90):
            yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def seeded_lake(prefect_server, tmp_path_factory):
    """A lake made by one real flow run on seeds/; tests must not modify it (copy it first)."""
    from flows.flow import gwr_lake
    from flows.settings import Settings

    lake = tmp_path_factory.mktemp("seeded") / "lake"
    state = gwr_lake(settings=Settings(source=str(SEEDS), lake=str(lake)), return_state=True)
    assert state.is_completed(), state.message
    return lake, state.result()


@pytest.fixture
def lake_copy(seeded_lake, tmp_path):
    """A private copy of the seeded lake, free to change."""
    dst = tmp_path / "lake"
    shutil.copytree(seeded_lake[0], dst)
    return dst

