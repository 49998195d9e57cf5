"""``siks serve``: run the API."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import typer
import uvicorn

from core.cli.common import fail, run_with_engine
from core.demo.samples import HouseholdSample, household_samples, sample_lines
from core.foundation.settings import Mode, get_settings
from core.http.metrics import MULTIPROCESS_DIR
from core.runtime.bootstrap import DEMO_ADMIN, BootstrapReport, bootstrap
from core.schema.build import build_schema
from core.storage.migrate import require_current


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1,
        min=1,
        help="Worker processes (stateless; scale with cores). Rate limits need SIKS_REDIS_URL to count across them.",
    ),
) -> None:
    """Serve the GraphQL API at /graphql. An empty database is migrated and seeded first."""
    settings = get_settings()
    problem = settings.secret_problem()
    if problem:
        fail(f"refusing to start in {settings.mode.value} mode: {problem}")
    development = settings.mode is Mode.DEVELOPMENT

    async def first_start(engine):  # type: ignore[no-untyped-def]
        report = await bootstrap(engine, settings.demo_households, demo_admin=development)
        if not report.demo_households:
            return report, []
        async with engine.connect() as conn:
            return report, await household_samples(conn)

    report: BootstrapReport
    samples: list[HouseholdSample]
    report, samples = run_with_engine(first_start, needs_schema=False)
    if report.migrated:
        typer.echo(
            f"new database: schema created, {report.regions_added} regions loaded, "
            f"{report.demo_households} demo households seeded"
        )
    for line in sample_lines(samples):
        typer.echo(line)
    if report.demo_admin:
        typer.echo(f"development login: user '{DEMO_ADMIN[0]}', password '{DEMO_ADMIN[1]}' (national data centre)")
    run_with_engine(require_current, needs_schema=False)  # refuse early on an outdated schema
    build_schema()  # refuse early on plugins that clash
    if workers > 1 and not settings.redis_url:
        typer.echo(
            f"note: without SIKS_REDIS_URL each of the {workers} workers keeps its own rate limits and login throttle",
            err=True,
        )
    typer.echo(f"SIKS GraphQL API on http://{host}:{port}/graphql ({settings.mode.value} mode, {workers} worker(s))")
    with shared_metrics(workers):
        # uvicorn would believe X-Forwarded-For from loopback by default; the app believes SIKS_TRUSTED_PROXIES only.
        uvicorn.run(
            "core.http.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            proxy_headers=False,
        )


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """For more than one worker, a new empty folder for prometheus-client's multiprocess mode, named in
    ``PROMETHEUS_MULTIPROC_DIR`` for the workers (which inherit the environment) and removed when the server
    stops, so /metrics sums every worker and no count outlives the server. A folder the operator named is
    used as it is and kept (empty it before each start)."""
    if workers == 1 or os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    folder = tempfile.mkdtemp(prefix="siks-metrics-")
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(folder, ignore_errors=True)


app = typer.Typer()
app.command()(serve)
