"""`python -m flows serve`: the flow as a deployment with a cron schedule, served by this process.

The process registers the deployment `gwr-lake/<name>` (schedule and default parameters source,
lake, expectations) with the Prefect server of PREFECT_API_URL, then polls it and runs each
scheduled or triggered run in a subprocess. The entrypoint is the module path
`flows.flow:gwr_lake`, so it runs from any working directory where `flows` is importable.
The task runner travels to those subprocesses through the environment (GWR_TASK_RUNNER,
GWR_DASK_ADDRESS; see flows/runners.py). Ctrl-C stops serving and pauses the schedule.

The other route, a work pool and a worker, is prefect.yaml at the repository root.
"""
from __future__ import annotations

import os


def build(name: str = "gwr-lake-daily", cron: str = "0 6 * * *", source: str = "seeds",
          lake: str = "lake", expectations: str | None = None, timezone: str = "UTC"):
    from prefect.schedules import Cron
    from prefect.deployments.runner import EntrypointType

    from .flow import gwr_lake

    parameters = {"source": source, "lake": lake}
    if expectations:
        parameters["expectations"] = expectations
    return gwr_lake.to_deployment(
        name=name, schedules=[Cron(cron, timezone=timezone)], parameters=parameters,
        description="Government work reports -> bronze/silver/gold (scheduled)",
        tags=["gwr-lake"], entrypoint_type=EntrypointType.MODULE_PATH)


def serve(name: str = "gwr-lake-daily", cron: str = "0 6 * * *", source: str = "seeds",
          lake: str = "lake", expectations: str | None = None, task_runner: str = "thread",
          dask_address: str | None = None, timezone: str = "UTC") -> int:
    from prefect import serve as prefect_serve

    os.environ["GWR_TASK_RUNNER"] = "dask" if dask_address else task_runner
    if dask_address:
        os.environ["GWR_DASK_ADDRESS"] = dask_address
    deployment = build(name, cron, source, lake, expectations, timezone)
    print(f"serving deployment gwr-lake/{name}: cron {cron!r} ({timezone}), source={source}, "
          f"lake={lake}, task runner={os.environ['GWR_TASK_RUNNER']}", flush=True)
    prefect_serve(deployment)
    return 0
