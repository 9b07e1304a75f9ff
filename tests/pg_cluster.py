"""Run a command against a throw-away PostgreSQL cluster: `python -m tests.pg_cluster CMD…`.

`make test` runs the suite a second time through this, so PostgreSQL keeps working: the
cluster lives in a temporary folder on a free port, the command gets `TEST_DATABASE_URL`
pointing at it, and the cluster is stopped and deleted afterwards, whatever happens.
On a fresh Debian machine without PostgreSQL, it installs Debian's package first (as
root). PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (or
`nobody`), which owns the temporary folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.debian_packages import apt_install, can_install

# Speed over durability: the cluster is thrown away after the run.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
}


def say(line: str) -> None:
    print(f"pg_cluster: {line}", file=sys.stderr, flush=True)


def binaries() -> Path | None:
    """The folder holding initdb and postgres: on PATH, or Debian's versioned folder."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres", path=str(Path(found).resolve().parent)):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parent.parent.name)
                      if Path(p).parent.parent.name.isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def install() -> Path:
    """Debian's postgresql package, when this machine has none."""
    if not can_install():
        raise SystemExit("pg_cluster: PostgreSQL is not installed; install it "
                         "(Debian: apt-get install postgresql) or set TEST_DATABASE_URL")
    say("PostgreSQL is not installed: installing Debian's package")
    apt_install("postgresql")
    found = binaries()
    if found is None:
        raise SystemExit("pg_cluster: installed postgresql but found no initdb")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_as() -> dict[str, object]:
    """As root, `Popen` arguments that run the server as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise SystemExit("pg_cluster: running as root and found no postgres or nobody user")


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yields its URL (`postgresql+asyncpg://…/postgres`)."""
    bindir = binaries() or install()
    user = run_as()
    root = Path(tempfile.mkdtemp(prefix="pingan-pg-"))
    data = root / "data"
    if user:
        os.chown(root, user["user"], user["group"])  # type: ignore[arg-type]
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, cwd=root, **user)  # type: ignore[call-overload]
        port = free_port()
        options = [arg for key, value in SERVER_OPTIONS.items() for arg in ("-c", f"{key}={value}")]
        log = open(root / "server.log", "wb")
        server = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(port),
             "-k", str(root), *options],
            stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
            **user)  # type: ignore[call-overload]
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe, contextlib.suppress(OSError):
                probe.connect(("127.0.0.1", port))
                if _accepts(bindir, port):
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                sys.stderr.write((root / "server.log").read_text(errors="replace"))
                raise SystemExit("pg_cluster: PostgreSQL did not start")
            time.sleep(0.2)
        say(f"PostgreSQL {bindir.parent.name} on 127.0.0.1:{port} (data in {data})")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # fast shutdown
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(root, ignore_errors=True)


def _accepts(bindir: Path, port: int) -> bool:
    ready = bindir / "pg_isready"
    if not ready.exists():
        return True
    return subprocess.run([str(ready), "-q", "-h", "127.0.0.1", "-p", str(port)],
                          check=False).returncode == 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    with cluster() as url:
        return subprocess.run(argv, env={**os.environ, "TEST_DATABASE_URL": url},
                              check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
