"""A throw-away PostgreSQL server for tests and benchmarks.

Debian keeps the server binaries in ``/usr/lib/postgresql/<version>/bin``,
not on PATH. :func:`start` creates a cluster in a temporary folder owned by
the ``postgres`` user when running as root (``initdb`` refuses root), starts
it on a free loopback port with its own socket folder, and returns a
:class:`Server` whose :meth:`Server.stop` stops it and removes the folder.

The pytest fixtures built on it live in ``tests/conftest.py``:
``postgres_server`` (session), ``postgres_dsn`` (session: one database) and
``pg_pool`` (session: a ``psycopg_pool.ConnectionPool`` on it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import attrs


def binaries() -> Path | None:
    """The newest server's bin folder under /usr/lib/postgresql, or None."""
    found = [
        Path(p).parent
        for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if os.access(Path(p).parent / "pg_ctl", os.X_OK)
    ]
    if not found:
        return None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def missing_reason() -> str | None:
    """Why no server can be started here, or None."""
    if binaries() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.frozen
class Server:
    """A running throw-away cluster (superuser ``postgres``, trust on loopback)."""

    folder: Path
    bin: Path
    port: int
    fsync: bool

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string to ``dbname`` on this server."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` (dropped first if there); its connection string."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            _as_owner(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.folder / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ],
                timeout=60,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_owner(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a server command as the cluster's owner (``postgres`` when we are root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(
        args, capture_output=True, text=True, check=True, timeout=timeout, cwd="/"
    )


def start(*, fsync: bool = False) -> Server:
    """Create and start a cluster (``fsync=off`` unless asked); raise if it cannot."""
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    bin_ = binaries()
    assert bin_ is not None
    folder = Path(tempfile.mkdtemp(prefix="loyaltycore-pg-"))
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chmod(folder, 0o700)
        data, sockets = folder / "data", folder / "sockets"
        _as_owner(
            [
                str(bin_ / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
            timeout=120,
        )
        _as_owner(["mkdir", "-p", str(sockets)], timeout=10)
        last = ""
        for _ in range(5):
            port = _free_port()
            flag = "on" if fsync else "off"
            options = (
                f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
                f" -c fsync={flag} -c full_page_writes={flag}"
                " -c max_connections=200 -c shared_buffers=64MB"
            )
            try:
                _as_owner(
                    [
                        str(bin_ / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(folder / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    timeout=90,
                )
            except subprocess.CalledProcessError as exc:
                last = exc.stdout + exc.stderr
                continue
            return Server(folder, bin_, port, fsync)
        raise RuntimeError(f"the PostgreSQL server did not start: {last}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
