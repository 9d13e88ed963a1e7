"""`python -m flows serve`: the flow as a deployment with a cron schedule, served by this process.

The process registers the deployment `gwr-lake/<name>` (its schedule, and the run's Settings as
the flow's default parameters) with the Prefect server of PREFECT_API_URL, then polls it and runs
each scheduled or triggered run in a subprocess. The entrypoint is the module path
`flows.flow:gwr_lake`, so it runs from any working directory where `flows` is importable. The
task runner travels to those subprocesses through the environment (GWR_TASK_RUNNER,
GWR_DASK_ADDRESS: the flow object is loaded anew in each run's process). Ctrl-C stops serving.

The other route, a work pool and a worker, is prefect.yaml at the repository root.
"""
from __future__ import annotations

import os


def build(settings, name: str = "gwr-lake-daily", cron: str = "0 6 * * *", timezone: str = "UTC"):
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from .flow import gwr_lake

    return gwr_lake.to_deployment(
        name=name, schedules=[Cron(cron, timezone=timezone)],
        parameters={"settings": settings.model_dump(exclude_defaults=True)},
        description="Government work reports -> bronze/silver/gold (scheduled)",
        tags=["gwr-lake"], entrypoint_type=EntrypointType.MODULE_PATH)


def serve(settings, name: str = "gwr-lake-daily", cron: str = "0 6 * * *", timezone: str = "UTC") -> int:
    from prefect import serve as prefect_serve

    os.environ["GWR_TASK_RUNNER"] = "dask" if settings.dask_address else settings.task_runner
    if settings.dask_address:
        os.environ["GWR_DASK_ADDRESS"] = settings.dask_address
    deployment = build(settings, name, cron, timezone)
    print(f"serving deployment gwr-lake/{name}: cron {cron!r} ({timezone}), source={settings.source}, "
          f"lake={settings.lake}, task runner={os.environ['GWR_TASK_RUNNER']}", flush=True)
    prefect_serve(deployment)
    return 0
