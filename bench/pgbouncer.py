"""A throw-away PgBouncer in transaction mode in front of a PostgreSQL server, for benchmarks.

The same set-up as ``.ci/pgbouncer`` (docs/scale.md, "PgBouncer in transaction mode"): Debian's
``pgbouncer`` with its configuration in a temporary folder (``auth_type = trust``,
``pool_mode = transaction``, an empty ``server_reset_query``, a free port on 127.0.0.1, every
database forwarded to the server of the given URL), run as the current user, or as ``postgres``
when that is root (PgBouncer refuses to run as root). Stopped, and its folder removed, on leaving
the ``with`` block, also after a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

CONFIGURATION = """[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
; transaction mode never runs server_reset_query (DISCARD ALL would also drop what a client prepared)
server_reset_query =
max_client_conn = {max_client_conn}
default_pool_size = {pool_size}
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


@dataclass(frozen=True)
class RunningPgBouncer:
    url: str  # the given URL with PgBouncer's host and port
    version: str
    folder: Path

    def log_tail(self, lines: int = 20) -> str:
        log = self.folder / "pgbouncer.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _executable() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if found is None:
        raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def pgbouncer(database_url: str, pool_size: int = 8, max_client_conn: int = 500) -> Iterator[RunningPgBouncer]:
    """PgBouncer in transaction mode forwarding to ``database_url``'s server; yields its URL for the same database."""
    executable = _executable()
    url = make_url(database_url)
    folder = Path(tempfile.mkdtemp(prefix="siks-pgbouncer-"))
    owner = pwd.getpwuid(os.getuid())
    run_as: list[str] = []
    if os.getuid() == 0:
        owner = pwd.getpwnam("postgres")
        run_as = ["-u", "postgres"]
    listen_port = _free_port()
    (folder / "pgbouncer.ini").write_text(
        CONFIGURATION.format(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            listen_port=listen_port,
            folder=folder,
            max_client_conn=max_client_conn,
            pool_size=pool_size,
        )
    )
    (folder / "userlist.txt").write_text(f'"{url.username or owner.pw_name}" ""\n')
    for path in (folder, folder / "pgbouncer.ini", folder / "userlist.txt"):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    pidfile = folder / "pgbouncer.pid"
    try:
        subprocess.run([executable, "-d", *run_as, str(folder / "pgbouncer.ini")], check=True)
        deadline = time.monotonic() + 10
        while not _accepts(listen_port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PgBouncer did not listen on {listen_port} within 10 s")
            time.sleep(0.1)
        version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.split()
        yield RunningPgBouncer(
            url=url.set(host="127.0.0.1", port=listen_port).render_as_string(hide_password=False),
            version=version[1] if len(version) > 1 else "?",
            folder=folder,
        )
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            for _ in range(50):
                if not pidfile.exists():
                    break
                time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)


def main(arguments: list[str] | None = None) -> int:
    """``python -m bench.pgbouncer [--url-in NAME]... URL -- COMMAND...``: COMMAND behind a PgBouncer in front of
    URL's server, with each NAME set to PgBouncer's URL for the same database; PgBouncer's log tail is shown when
    COMMAND fails. Exits with COMMAND's status (``.ci/pgbouncer`` runs the pooler's tests so)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m bench.pgbouncer", description=main.__doc__)
    parser.add_argument("--url-in", action="append", default=[], metavar="NAME", help="variable to set to the URL")
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("url", help="the database behind PgBouncer (postgresql+asyncpg://user@host:port/name)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(arguments)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop PgBouncer on the way out
    with pgbouncer(args.url, pool_size=args.pool_size) as bouncer:
        print(f"== PgBouncer {bouncer.version} in transaction mode: {bouncer.url}", flush=True)
        status = subprocess.run(command, env={**os.environ, **dict.fromkeys(args.url_in, bouncer.url)}).returncode
        if status != 0:
            print(f"== PgBouncer's log\n{bouncer.log_tail(40)}", flush=True)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
