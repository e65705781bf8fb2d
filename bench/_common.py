"""Shared by the benchmarks (run_all skips files starting with `_`): the machine line, ports,
subprocesses that are always stopped, percentiles, and a throw-away PostgreSQL database."""
from __future__ import annotations

import contextlib
import io
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.faults.serving import free_port  # noqa: E402,F401  (the benchmarks' ports too)

PG_ADMIN = os.environ.get("BENCH_POSTGRES_ADMIN",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def machine() -> str:
    load = ", load average %.2f %.2f %.2f at start" % os.getloadavg()
    return (f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
            f"({platform.machine()}){load}")


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 90,
                  path: str = "") -> None:
    """Until 127.0.0.1:port accepts connections (and `path`, if given, answers 200)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"a subprocess ended early (exit code {process.returncode})")
        try:
            if path:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            else:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port} within {timeout:.0f} s")


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """Terminate one process we started (by its own handle), kill it if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@contextlib.contextmanager
def fresh_postgres():
    """A new database `bench_<random>` on 127.0.0.1:5432, dropped afterwards whatever happens.

    Yields its URL (postgresql+psycopg://…), or None when no PostgreSQL answers."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    name = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # not reachable: the caller says so and skips that part
        admin.dispose()
        print(f"  (PostgreSQL not reachable at {PG_ADMIN.split('@')[-1]}: "
              f"{type(error).__name__}; skipped)")
        yield None
        return
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def generated_roster(folder: Path, pairs: int, zone: str | None = None) -> Path:
    """bot.simulation's generated programme (mentor{i}/mentee{i}@example.org and a manager,
    manager@example.org); `zone` puts everyone in one time zone."""
    from bot.simulation.run import _generated_programme

    sample = ROOT / "examples" / "programme.toml"
    path = _generated_programme(folder, sample, pairs)
    if zone:
        roster = folder / "roster.csv"
        lines = roster.read_text().splitlines()
        fixed = [lines[0]] + [",".join(line.split(",")[:4] + [zone] + line.split(",")[5:])
                              for line in lines[1:]]
        roster.write_text("\n".join(fixed) + "\n")
    return path


def import_roster(db, path: Path, now) -> None:
    from bot.cli.importer import import_file
    from conversations.texts import Texts

    out = io.StringIO()
    if import_file(db, path, now, Texts(), out) != 0:
        raise SystemExit("the generated programme did not import:\n" + out.getvalue()[:2000])


def verdict(ok: bool, missed_by: str) -> str:
    return "meets" if ok else f"MISSES by {missed_by}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a process and of the processes it started, still running (serve's
    engine turn processes)."""
    return cpu_seconds(pid) + sum(tree_cpu_seconds(child) for child in children(pid))


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(word) for word in task.read_text().split()]
        except OSError:  # the thread or process ended meanwhile
            pass
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores added up."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values[:8]) - idle) / tick, sum(values[:8]) / tick


class CpuWatch:
    """CPU used between start() and stop() by some processes (a share of one core), and by the
    whole machine (a share of all its cores); what the named processes did not use went to
    everything else: PostgreSQL, the kernel, other people's work on the machine."""

    def __init__(self, pids: list[int], trees: frozenset[int] = frozenset()) -> None:
        self.pids = pids
        self.trees = trees  # pids counted with the processes they started

    def _cpu(self, pid: int) -> float:
        return tree_cpu_seconds(pid) if pid in self.trees else cpu_seconds(pid)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._own = [self._cpu(pid) for pid in self.pids]
        self._busy = machine_busy()

    def stop(self) -> None:
        wall = time.monotonic() - self._t0
        self.process_share = [(self._cpu(pid) - before) / wall
                              for pid, before in zip(self.pids, self._own)]
        busy, total = machine_busy()
        self.machine_share = (busy - self._busy[0]) / max(total - self._busy[1], 1e-9)
        self.rest_share = max(0.0, self.machine_share * (os.cpu_count() or 1)
                              - sum(self.process_share))

    def line(self, names: list[str]) -> str:
        parts = [f"{name} {share:.0%}" for name, share in zip(names, self.process_share)]
        return (", ".join(parts) + f", everything else (database, other processes) "
                f"{self.rest_share:.0%} of one core; whole machine {self.machine_share:.0%} "
                f"busy ({os.cpu_count()} cores)")
