"""Benchmark: a bounded mixed load from local clients against ``siks serve --workers 2`` through PgBouncer (issue 17).

Starts its own PgBouncer in transaction mode (``bench/pgbouncer.py``, as ``.ci/pgbouncer`` does) in front of
the PostgreSQL server of ``--database-url`` (an already loaded SIKS database), or of a fresh database with
``--households N`` demo households (a new schema in ``--postgres-url``'s database, dropped at the end), and
``siks serve --workers 2`` on a free port against it (``SIKS_DATABASE_POOLER=transaction``,
``SIKS_DATABASE_DIRECT_URL`` the server itself, production mode with a random secret and audit key, the
anonymous and public rate limits raised out of the way). A national data-centre operator's access token
(signed with that secret) is sent by ``--clients`` concurrent keep-alive httpx clients, which share
``--requests`` requests per run, drawn with a fixed seed in fixed proportions:

- 70 % a page: ``households(regionCode:, first: 100) { totalCount edges { node { id kkNumber members { nik
  name } } } }`` for a village, district, regency, province (of villages sampled beforehand) or the country,
  the level drawn evenly;
- 20 % ``person(nik:)`` for an active NIK sampled beforehand;
- 10 % ``updateHousehold`` on one of ``--update-households`` households sampled beforehand, with the version
  the bench last saw, setting its address to the address it already has (a full versioned write: the
  version goes up, an audit row and a change event are written; no data changes). Two updates of one
  household are never in flight together, so a ``VersionConflict`` is not expected; one is reported apart.

Every answer must be HTTP 200 without GraphQL ``errors``; a page must hold ``totalCount`` and edges, a
person must be found, an update must answer the ``Household`` with the next version. Anything else is an
error, counted and its first examples printed. Measured in the same run, the floors, with the same
clients and as many requests: ``/health`` through the same server (HTTP and the workers, no database),
and the raw asyncpg village page of 100 with its members through the same PgBouncer (the database, no
SIKS). Prints requests/s, p50 and p99 (overall and per kind), errors, the load average and the CPU the
bench's own clients used (they share the machine); medians over ``--runs`` runs after a warm-up. The
latencies are a closed loop's: with more clients than the server can serve at once they include the wait
in its queue (``--clients 2`` shows a request's own time). ``--no-pooler`` is the control: the same load
with the server (and the raw floor) straight to PostgreSQL. The server, PgBouncer and their folders are
removed on exit, also after a failure, Ctrl-C or SIGTERM.

    python bench/mixed_load_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/siks_scale
    python bench/mixed_load_bench.py --households 5000 --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/mine
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, fresh_database, wait_until_up  # noqa: E402
from bench.pgbouncer import pgbouncer  # noqa: E402
from core.auth import tokens  # noqa: E402
from core.foundation.ids import encode_global  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402

PAGE_QUERY = """query Page($region: String) {
  households(regionCode: $region, first: 100) { totalCount edges { node { id kkNumber members { nik name } } } }
}"""
PERSON_QUERY = "query Person($nik: String!) { person(nik: $nik) { id nik name household { id } } }"
UPDATE_MUTATION = """mutation Update($id: ID!, $version: Int!, $address: String!) {
  updateHousehold(id: $id, version: $version, changes: { address: $address }) {
    __typename
    ... on Household { id version }
    ... on Error { message code }
  }
}"""
FLOOR_PAGE = (
    "SELECT id, kk_number FROM {schema}households WHERE village_code = $1 AND status = 'active' ORDER BY id LIMIT 100"
)
FLOOR_MEMBERS = (
    "SELECT household_id, nik, name FROM {schema}members "
    "WHERE household_id = ANY($1::bigint[]) AND status = 'active' ORDER BY household_id, id"
)
MIX = (("page", 70), ("person", 20), ("update", 10))
LEVELS = ("village", "district", "regency", "province", "country")
SAMPLED_VILLAGES = 200
SAMPLED_NIKS = 2000
DIRECT = object()  # --no-pooler: what stands in for the running PgBouncer


@dataclass
class Target:
    """A household the bench updates: its global id, the version last seen and the address it keeps."""

    global_id: str
    version: int
    address: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Sample:
    regions: list[str]  # '' is the country
    niks: list[str]
    villages: list[str]
    targets: list[Target]


@dataclass
class RunFigures:
    requests_per_second: float
    p50_ms: dict[str, float]
    p99_ms: dict[str, float]
    errors: list[str]
    conflicts: int


class Interrupted(Exception):
    """SIGTERM: leave through the ``finally`` blocks, so the server and PgBouncer stop."""


def _raise_interrupted(*_: object) -> None:
    raise Interrupted("terminated")


def percentile(values: list[float], share: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


def plain_url(url: str) -> str:
    """An asyncpg DSN for a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def take_sample(direct_url: str, schema: str | None, seed: int, update_households: int) -> Sample:
    """Villages with households (and their district, regency, province), active NIKs and households to update,
    read straight from the server with a fixed seed; table samples keep this cheap at 10 million households."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(plain_url(direct_url), server_settings={"search_path": schema or "public"})
    try:
        codes = sorted(
            await conn.fetchval(
                "SELECT array_agg(region_code) FROM region_household_counts "
                "WHERE level = 4 AND status = 'active' AND households > 0"
            )
            or []
        )
        if not codes:
            raise RuntimeError("the database has no active households (region_household_counts is empty)")
        villages = rng.sample(codes, min(SAMPLED_VILLAGES, len(codes)))
        regions = [""]
        for village in villages:
            parts = village.split(".")
            regions += [".".join(parts[:n]) for n in (4, 3, 2, 1)]

        async def sampled(table: str, wanted: int) -> float:
            rows = float(
                await conn.fetchval("SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = $1::regclass", table)
            )
            return min(100.0, 100.0 * wanted * 20 / rows)

        percent = await sampled("members", SAMPLED_NIKS)
        niks = sorted(
            await conn.fetchval(
                "SELECT array_agg(nik) FROM (SELECT nik FROM members "
                f"TABLESAMPLE SYSTEM ({percent}) REPEATABLE ({seed}) WHERE status = 'active') s"
            )
            or []
        )
        niks = rng.sample(niks, min(SAMPLED_NIKS, len(niks)))
        percent = await sampled("households", update_households)
        rows = sorted(
            await conn.fetch(
                f"SELECT id, version, address FROM households TABLESAMPLE SYSTEM ({percent}) REPEATABLE ({seed}) "
                "WHERE status = 'active'"
            )
        )
        chosen = rng.sample(rows, min(update_households, len(rows)))
        targets = [Target(encode_global("Household", r["id"]), r["version"], r["address"]) for r in chosen]
    finally:
        await conn.close()
    if not niks or not targets:
        raise RuntimeError("no NIKs or households could be sampled")
    return Sample(regions=regions, niks=niks, villages=villages, targets=targets)


def schedule(requests: int, seed: int) -> list[str]:
    """``requests`` kinds in MIX's exact proportions, shuffled with ``seed``."""
    kinds: list[str] = []
    for kind, share in MIX:
        kinds += [kind] * round(requests * share / 100)
    kinds = kinds[:requests] + ["page"] * (requests - len(kinds))
    random.Random(seed).shuffle(kinds)
    return kinds


class Mix:
    """One run's requests through ``clients`` concurrent clients; latencies by kind and every error."""

    def __init__(self, url: str, token: str, sample: Sample, seed: int) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sample = sample
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = {kind: [] for kind, _ in MIX}
        self.errors: list[str] = []
        self.conflicts = 0

    def _region(self) -> str:
        level = self.rng.choice(LEVELS)
        if level == "country":
            return ""
        village = self.rng.choice(self.sample.villages).split(".")
        return ".".join(village[: 4 - LEVELS.index(level)])

    def request(self, kind: str) -> Callable[[httpx.AsyncClient], Awaitable[None]]:
        """The request of ``kind`` with its arguments drawn now (in schedule order, so the seed fixes them)."""
        if kind == "page":
            region = self._region()
            return lambda http: self._page(http, region)
        if kind == "person":
            nik = self.rng.choice(self.sample.niks)
            return lambda http: self._person(http, nik)
        target = self.rng.choice(self.sample.targets)
        return lambda http: self._update(http, target)

    async def _post(self, http: httpx.AsyncClient, kind: str, query: str, variables: dict[str, Any]) -> Any:
        started = time.perf_counter()
        response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
        try:
            body = response.json()
        except ValueError:
            body = None
        self.latencies[kind].append(time.perf_counter() - started)
        if response.status_code != 200 or not isinstance(body, dict) or body.get("errors"):
            self.errors.append(f"{kind}: HTTP {response.status_code} {response.text[:300]}")
            return None
        return body.get("data")

    async def _page(self, http: httpx.AsyncClient, region: str) -> None:
        data = await self._post(http, "page", PAGE_QUERY, {"region": region or None})
        if data is None:
            return
        page = data.get("households") or {}
        if not isinstance(page.get("totalCount"), int) or not page.get("edges"):
            self.errors.append(f"page {region or 'country'}: an empty page {str(data)[:200]}")

    async def _person(self, http: httpx.AsyncClient, nik: str) -> None:
        data = await self._post(http, "person", PERSON_QUERY, {"nik": nik})
        if data is not None and (data.get("person") or {}).get("nik") != nik:
            self.errors.append(f"person {nik}: not found {str(data)[:200]}")

    async def _update(self, http: httpx.AsyncClient, target: Target) -> None:
        async with target.lock:  # the bench's own updates of one household never race
            variables = {"id": target.global_id, "version": target.version, "address": target.address}
            data = await self._post(http, "update", UPDATE_MUTATION, variables)
            if data is None:
                return
            answer = data.get("updateHousehold") or {}
            if answer.get("__typename") == "Household" and answer.get("version") == target.version + 1:
                target.version += 1
            elif answer.get("__typename") == "VersionConflict":
                self.conflicts += 1
                self.errors.append(f"update {target.global_id}: {answer}")
            else:
                self.errors.append(f"update {target.global_id} v{target.version}: {str(answer)[:300]}")

    async def drive(self, kinds: list[str], clients: int) -> RunFigures:
        work = [self.request(kind) for kind in kinds]
        queue: asyncio.Queue[Callable[[httpx.AsyncClient], Awaitable[None]]] = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)

        async def client() -> None:
            async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
                while not queue.empty():
                    await queue.get_nowait()(http)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        return figures(len(kinds) / elapsed, self.latencies, self.errors, self.conflicts)


def figures(rate: float, latencies: dict[str, list[float]], errors: list[str], conflicts: int) -> RunFigures:
    everything = [value for values in latencies.values() for value in values]
    every = {"all": everything, **latencies}
    return RunFigures(
        requests_per_second=rate,
        p50_ms={kind: percentile(values, 50) * 1000 for kind, values in every.items() if values},
        p99_ms={kind: percentile(values, 99) * 1000 for kind, values in every.items() if values},
        errors=errors,
        conflicts=conflicts,
    )


async def health_floor(url: str, requests: int, clients: int) -> RunFigures:
    """``/health`` through the same server and clients: HTTP and the workers without the database."""
    latencies: list[float] = []
    errors: list[str] = []
    remaining = iter(range(requests))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in remaining:
                started = time.perf_counter()
                response = await http.get("/health")
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"/health: HTTP {response.status_code}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return figures(requests / (time.perf_counter() - started), {"health": latencies}, errors, 0)


async def database_floor(
    pooler_url: str, schema: str | None, villages: list[str], requests: int, clients: int, seed: int
) -> RunFigures:
    """The raw asyncpg village page of 100 and its members through the same PgBouncer, ``clients`` connections."""
    prefix = f"{schema}." if schema else ""
    page, members = FLOOR_PAGE.format(schema=prefix), FLOOR_MEMBERS.format(schema=prefix)
    rng = random.Random(seed)
    work = iter([rng.choice(villages) for _ in range(requests)])
    latencies: list[float] = []
    errors: list[str] = []

    async def client() -> None:
        conn = await asyncpg.connect(plain_url(pooler_url), statement_cache_size=0)
        try:
            for village in work:
                started = time.perf_counter()
                async with conn.transaction():  # in transaction mode a prepare and its execute need one server
                    rows = await conn.fetch(page, village)
                    await conn.fetch(members, [row["id"] for row in rows])
                latencies.append(time.perf_counter() - started)
                if not rows:
                    errors.append(f"raw page {village}: empty")
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return figures(requests / (time.perf_counter() - started), {"raw page": latencies}, errors, 0)


@contextlib.contextmanager
def siks_serve(
    database_url: str, direct_url: str | None, schema: str | None, secret: str, workers: int
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``siks serve --workers N`` on a free port, in its own process group, stopped on exit: through the pooler at
    ``database_url`` when ``direct_url`` names the server past it, else straight to ``database_url``."""
    port = free_port()
    env = {
        **os.environ,
        "SIKS_DATABASE_URL": database_url,
        "SIKS_MODE": "production",
        "SIKS_SECRET_KEY": secret,
        "SIKS_AUDIT_KEY": secrets.token_urlsafe(48),
        "SIKS_DEMO_HOUSEHOLDS": "0",
        "SIKS_ANONYMOUS_REQUESTS_PER_MINUTE": "100000000",
        "SIKS_PUBLIC_REQUESTS_PER_MINUTE": "100000000",
        "SIKS_ACCESS_TOKEN_MINUTES": "1440",
        "SIKS_LOG_FORMAT": "text",
    }
    for name in ("SIKS_DATABASE_POOLER", "SIKS_DATABASE_DIRECT_URL", "SIKS_DATABASE_SCHEMA"):
        env.pop(name, None)
    if direct_url:
        env.update(SIKS_DATABASE_POOLER="transaction", SIKS_DATABASE_DIRECT_URL=direct_url)
    env.pop("SIKS_DATABASE_REPLICA_URL", None)
    env.pop("SIKS_REDIS_URL", None)
    if schema:
        env["SIKS_DATABASE_SCHEMA"] = schema
    siks = Path(sys.executable).with_name("siks")
    command = [str(siks), "serve", "--workers", str(workers), "--port", str(port)]
    with tempfile.TemporaryFile() as log:  # the server's log, shown when something fails
        process = subprocess.Popen(
            command,
            env=env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, process)
            yield url, process
        except BaseException:
            log.seek(0)
            tail = log.read().decode(errors="replace").splitlines()[-30:]
            print("siks serve's log:\n" + "\n".join(tail), file=sys.stderr)
            raise
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def median_of(runs: list[RunFigures]) -> RunFigures:
    kinds = runs[0].p99_ms.keys()
    return RunFigures(
        requests_per_second=statistics.median(r.requests_per_second for r in runs),
        p50_ms={k: statistics.median(r.p50_ms[k] for r in runs if k in r.p50_ms) for k in kinds},
        p99_ms={k: statistics.median(r.p99_ms[k] for r in runs if k in r.p99_ms) for k in kinds},
        errors=[e for r in runs for e in r.errors],
        conflicts=sum(r.conflicts for r in runs),
    )


def line(label: str, result: RunFigures) -> str:
    kinds = ", ".join(f"{k} {result.p50_ms[k]:.1f} / {result.p99_ms[k]:.1f}" for k in result.p99_ms)
    return f"  {label:34s} {result.requests_per_second:7.1f} requests/s; p50 / p99 ms: {kinds}"


async def measure(args: argparse.Namespace, direct_url: str, schema: str | None) -> int:
    load = [os.getloadavg()[0]]
    sample = await take_sample(direct_url, schema, args.seed, args.update_households)
    secret = secrets.token_urlsafe(48)
    token, _claims = tokens.issue(
        Settings(secret_key=secret, access_token_minutes=1440),
        user_id=1,
        username="bench-mixload",
        role="data_centre",
        scope="",
        kind="access",
    )
    mixes: list[RunFigures] = []
    healths: list[RunFigures] = []
    raws: list[RunFigures] = []
    client_cpu: list[float] = []  # CPUs the bench's own clients used during the mixed load (they share the machine)
    pooler = contextlib.nullcontext(DIRECT) if args.no_pooler else pgbouncer(direct_url, pool_size=args.pool_size)
    with pooler as bouncer:
        through = bouncer.url if bouncer is not DIRECT else direct_url
        print(
            (
                "no pooler: straight to PostgreSQL (control)"
                if bouncer is DIRECT
                else f"PgBouncer {bouncer.version} (transaction mode, default_pool_size {args.pool_size}) on {through}"
            )
            + "; "
            f"siks serve --workers {args.workers}; {args.clients} clients; {args.requests} requests a run "
            f"(70% pages, 20% person, 10% updates of {len(sample.targets)} households); seed {args.seed}",
            flush=True,
        )
        try:
            with siks_serve(through, direct_url if bouncer is not DIRECT else None, schema, secret, args.workers) as (
                url,
                _process,
            ):
                warm = Mix(url, token, sample, args.seed - 1)
                await warm.drive(schedule(max(args.requests // 10, args.clients), args.seed - 1), args.clients)
                if warm.errors:
                    print(f"  warm-up errors ({len(warm.errors)}): {warm.errors[:3]}", flush=True)
                for run in range(args.runs):
                    healths.append(await health_floor(url, args.requests, args.clients))
                    raws.append(
                        await database_floor(
                            through, schema, sample.villages, args.requests, args.clients, args.seed + run
                        )
                    )
                    cpu, wall = time.process_time(), time.perf_counter()
                    mixes.append(
                        await Mix(url, token, sample, args.seed + run).drive(
                            schedule(args.requests, args.seed + run), args.clients
                        )
                    )
                    client_cpu.append((time.process_time() - cpu) / (time.perf_counter() - wall))
                    load.append(os.getloadavg()[0])
                    print(
                        line(f"run {run + 1}: mixed load", mixes[-1]) + f"; errors {len(mixes[-1].errors)}", flush=True
                    )
        except BaseException:
            if bouncer is not DIRECT:
                print(f"PgBouncer's log:\n{bouncer.log_tail()}", file=sys.stderr)
            raise
    mixed = median_of(mixes)
    print(
        f"medians of {args.runs} runs (load average {min(load):.2f}–{max(load):.2f} on {os.cpu_count()} CPUs):",
        flush=True,
    )
    print(line("mixed load", mixed))
    print(line("floor: /health, same server", median_of(healths)))
    print(line("floor: raw village page, " + ("direct" if args.no_pooler else "PgBouncer"), median_of(raws)))
    errors = mixed.errors + median_of(healths).errors + median_of(raws).errors
    print(f"  the clients themselves used {statistics.median(client_cpu):.2f} CPU during the mixed load (median)")
    print(f"  errors: {len(errors)} (version conflicts among them: {mixed.conflicts})")
    for error in errors[:10]:
        print(f"    {error}")
    return 1 if errors else 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an already loaded SIKS PostgreSQL database (postgresql+asyncpg://…)")
    parser.add_argument("--households", type=int, help="instead: a fresh database with this many demo households")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SIKS_BENCH_POSTGRES_URL"),
        help="with --households: the database the fresh schema is made in (default SIKS_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests a run (bounded)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="siks serve --workers")
    parser.add_argument("--pool-size", type=int, default=8, help="PgBouncer's default_pool_size")
    parser.add_argument("--update-households", type=int, default=200, help="households the updates touch")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--no-pooler", action="store_true", help="the control: the server and the raw floor straight to PostgreSQL"
    )
    args = parser.parse_args()
    if bool(args.database_url) == bool(args.households):
        parser.error("give --database-url or --households")
    signal.signal(signal.SIGTERM, _raise_interrupted)
    if args.database_url:
        return await measure(args, args.database_url, None)
    if not args.postgres_url:
        parser.error("--households needs --postgres-url (or SIKS_BENCH_POSTGRES_URL)")
    os.environ["SIKS_BENCH_POSTGRES_URL"] = args.postgres_url
    database = await fresh_database("postgresql", args.households)
    try:
        print(f"fresh schema {database.settings.database_schema} with {args.households} demo households", flush=True)
        return await measure(args, args.postgres_url, database.settings.database_schema)
    finally:
        await database.cleanup()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
