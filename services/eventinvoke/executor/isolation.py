"""Sandboxes isolated from the server and from each other (SECURITY.md, "Functions").

When the server runs as root, each sandbox runs as a user of its own, leased from a range of
numeric uids (``sandbox_uids``) for as long as it lives, so that no two live sandboxes share a
uid: one cannot signal, trace, read the /tmp of, or take the Runtime API events of another,
even of the same function. The sandboxes of one code directory share a group, leased the same
way, and that directory alone is opened to it (``root:<gid>``, 0750), so a sandbox reads its own
code and nobody else's. Files stay owned by root: code is read-only to every sandbox.

A lease is a ``flock`` on a file per number in a root-only directory, so that executors on the
same machine never hand out the same uid; the kernel drops it if the process dies. Before a uid
is used, and when it is given back, every process still running as it is killed: a function
that left a process behind (one that escaped its process group) cannot watch the next sandbox
that gets its uid.

The sandbox's Runtime API answers only connections made by its uid: the kernel tells whose a
loopback TCP connection is (its socket's owner, through sock_diag), once per connection.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from eventinvoke.executor.memory import child_pids

log = structlog.get_logger("eventinvoke.executor")

LOCK_DIRS = (Path("/run/eventinvoke"), Path(tempfile.gettempdir()) / "eventinvoke-ids")
KILL_ROUNDS = 50  # /proc scans before a uid whose processes keep coming back is given up
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


class IsolationError(RuntimeError):
    """No sandbox user could be had: a system error (the event is retried), not the function's."""


def is_root() -> bool:
    return os.geteuid() == 0


# -- leases ------------------------------------------------------------------------------


def _lock_dir() -> Path:
    """A directory only root can write, for the lease files: under /run, else the temp dir
    (where another user may have made it first: then it is refused, not used)."""
    for directory in LOCK_DIRS:
        if directory.parent.is_dir():
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o700)
            info = os.lstat(directory)
            if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
                return directory
    raise OSError(f"no safe directory for sandbox leases: {LOCK_DIRS[0]} is not usable")


class Leases:
    """Numbers from ``first..last``, each held by one holder on this machine at a time.

    Handed out least recently used first, so that a number comes back into use as late as
    possible."""

    def __init__(self, kind: str, first: int, last: int, directory: Path) -> None:
        self._kind = kind
        self._directory = directory
        self._free = deque(range(first, last + 1))
        self._held: dict[int, int] = {}  # number -> the locked file's descriptor

    def acquire(self) -> int:
        for _ in range(len(self._free)):
            number = self._free.popleft()
            fd = os.open(self._directory / f"{self._kind}-{number}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another executor on this machine holds it
                os.close(fd)
                self._free.append(number)
                continue
            self._held[number] = fd
            return number
        raise IsolationError(f"every sandbox {self._kind} is in use (sandbox_uids)")

    def release(self, number: int) -> None:
        fd = self._held.pop(number, None)
        if fd is not None:
            os.close(fd)
            self._free.append(number)

    def close(self) -> None:
        for number in list(self._held):
            self.release(number)


def kill_user(uid: int) -> bool:
    """Kill every process running as ``uid`` (real, effective or saved); True once none is
    left. Read from /proc/<pid>/status, which a process cannot hide from as it can its
    /proc/<pid> directory's owner (by making itself non-dumpable)."""
    wanted = str(uid).encode()
    for _ in range(KILL_ROUNDS):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/status", "rb") as status_file:
                    status = status_file.read()
            except OSError:
                continue  # gone meanwhile
            fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
            if wanted not in fields.get(b"Uid", b"").split()[:3]:
                continue
            if fields.get(b"State", b"").split()[:1] in ([b"Z"], [b"X"]):
                continue  # dead already, waiting for its parent
            found = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
        if not found:
            return True
        time.sleep(0.005)  # SIGKILL takes effect as the process next runs
    return False


# -- the sandboxes of one pool -----------------------------------------------------------


@dataclass
class Place:
    """What one sandbox runs as, and its writable directory (its /tmp and HOME)."""

    tmp: Path
    code_dir: Path
    uid: int | None = None  # None: the server's own user, not isolated
    gid: int | None = None


class Confinement:
    """Hands each sandbox of a pool its Place, and takes it back when the sandbox stops.

    ``uids``: the range leased from, or None to run sandboxes as the server's own user (the
    server is not root): they then get their own /tmp directory, and nothing else changes.
    """

    def __init__(self, uids: tuple[int, int] | None) -> None:
        # Where each sandbox's /tmp is made: reachable by every user (0711), not listable.
        self.tmp_root = Path(tempfile.mkdtemp(prefix="eventinvoke-tmp-"))
        os.chmod(self.tmp_root, 0o711)
        self._uids: Leases | None = None
        self._gids: Leases | None = None
        if uids is not None:
            directory = _lock_dir()
            self._uids = Leases("uid", *uids, directory)
            self._gids = Leases("gid", *uids, directory)
        self._code_groups: dict[Path, list[int]] = {}  # code dir -> [gid, sandboxes using it]
        self._count = 0

    @property
    def isolated(self) -> bool:
        return self._uids is not None

    def enter(self, code_dir: Path) -> Place:
        self._count += 1
        tmp = self.tmp_root / str(self._count)
        os.mkdir(tmp, 0o700)
        if self._uids is None:
            return Place(tmp, code_dir)
        try:
            uid = self._lease_uid()
            try:
                gid = self._open_code(code_dir)
            except BaseException:
                self._uids.release(uid)
                raise
        except BaseException:
            os.rmdir(tmp)
            raise
        os.chown(tmp, uid, gid)
        return Place(tmp, code_dir, uid, gid)

    def leave(self, place: Place) -> None:
        """After the sandbox's process is gone: end what it left running, free its lease."""
        if place.uid is not None and self._uids is not None:
            if kill_user(place.uid):
                self._uids.release(place.uid)
            else:  # kept leased (never reused) until the executor stops
                log.error("sandbox_user_not_cleared", uid=place.uid)
            self._close_code(place.code_dir)
        reap_orphans()
        shutil.rmtree(place.tmp, ignore_errors=True)

    def close(self) -> None:
        for leases in (self._uids, self._gids):
            if leases is not None:
                leases.close()
        shutil.rmtree(self.tmp_root, ignore_errors=True)

    def _lease_uid(self) -> int:
        assert self._uids is not None
        for _ in range(3):
            uid = self._uids.acquire()
            if kill_user(uid):  # anything a crashed executor's sandbox left running
                return uid
            log.error("sandbox_user_not_cleared", uid=uid)  # kept leased: never used
        raise IsolationError("no sandbox uid could be cleared of old processes")

    def _open_code(self, code_dir: Path) -> int:
        """The group that may read ``code_dir``, leased with its first sandbox."""
        assert self._gids is not None
        entry = self._code_groups.get(code_dir)
        if entry is None:
            gid = self._gids.acquire()
            try:
                os.chown(code_dir, 0, gid)
                os.chmod(code_dir, 0o750)
            except BaseException:
                self._gids.release(gid)
                raise
            entry = self._code_groups[code_dir] = [gid, 0]
        entry[1] += 1
        return entry[0]

    def _close_code(self, code_dir: Path) -> None:
        assert self._gids is not None
        entry = self._code_groups.get(code_dir)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del self._code_groups[code_dir]
            # Closed again before its group goes to another code directory's sandboxes.
            with contextlib.suppress(FileNotFoundError):
                os.chown(code_dir, 0, 0)
            self._gids.release(entry[0])


# -- starting a sandbox's process --------------------------------------------------------


class Child:
    """A runtime process this one is the parent of, started by ``subprocess`` rather than
    asyncio's, whose loop may be uvloop's: it takes none of the options that make another
    user's process (user, group, extra_groups, umask). Or forked by a template (forkserver.py)
    and adopted. Its exit is seen through a pidfd on the loop, with no child watcher.
    """

    def __init__(self, pid: int, reap: Callable[[], int]) -> None:
        self.pid = pid
        self._reap_status = reap
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(pid)
        loop.add_reader(self._pidfd, self._reap)
        _ours.add(pid)

    def _reap(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        status = self._reap_status()  # it has exited: this only reaps it
        _ours.discard(self.pid)
        self._exited.set_result(status)

    async def wait(self) -> int:
        """The exit status; minus the signal's number when one killed it."""
        return await asyncio.shield(self._exited)


# The processes this one started and reaps itself; any other child is an orphan it adopted.
_ours: set[int] = set()
_forking = 0  # sandboxes being forked: adopted before their pid is known, so no reaping now
_PR_SET_CHILD_SUBREAPER = 36


@contextlib.contextmanager
def adopting() -> Iterator[None]:
    """While a template forks a sandbox through a middle process that exits, be a child
    subreaper, so that the sandbox is adopted: its parent is then this process, as an exec'd
    one's is. Only then: the orphans of a sandbox's own processes still go where they did.
    (Strays adopted meanwhile are reaped by ``reap_orphans``.)"""
    global _forking
    if not _forking:
        _set_subreaper(True)
    _forking += 1
    try:
        yield
    finally:
        _forking -= 1
        if not _forking:
            _set_subreaper(False)


def _set_subreaper(on: bool) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def adopt(pid: int) -> None:
    """Note a child this process will reap itself, before it can exit unreaped."""
    _ours.add(pid)


def forgo(pid: int) -> None:
    """Once it is reaped."""
    _ours.discard(pid)


def reap_orphans() -> None:
    """Reap the exited children that are not this process's own: processes a function left
    behind, adopted when their parent died. Those still running wait for a later call. (The
    process that holds a sandbox pool, the sandbox host or an embedded server, starts no other
    children that it waits for.)"""
    if _forking:
        return
    for child in child_pids(os.getpid()):
        if child in _ours:
            continue
        try:
            with open(f"/proc/{child}/stat", "rb") as stat_file:
                state = stat_file.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue
        if state in (b"Z", b"X"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, os.WNOHANG)


def start_process(
    argv: list[str], place: Place, cwd: Path, env: dict[str, str], log_fd: int
) -> Child:
    """Start a runtime as its sandbox's user (no supplementary groups, files it makes readable
    by itself alone), writing into ``log_fd``, leading its own session (a kill of its process
    group reaches its children too)."""
    isolated = place.uid is not None
    popen = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        user=place.uid,
        group=place.gid,
        extra_groups=[] if isolated else None,
        umask=0o077 if isolated else -1,
    )
    return Child(popen.pid, popen.wait)


def base_environment() -> dict[str, str]:
    """What a sandbox's environment starts from: of the server's variables, only the search
    paths its interpreters need (no credentials, no EVENTINVOKE_*)."""
    env = {"LANG": "en_US.UTF-8", "TZ": ":UTC", "PATH": os.environ.get("PATH", DEFAULT_PATH)}
    if "LD_LIBRARY_PATH" in os.environ:
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    return env


# -- the interpreter sandboxes run -------------------------------------------------------


def prepare(bootstrap: Path) -> str:
    """Check, as the server starts, that sandboxes can be isolated here; the Python they run."""
    _lock_dir()
    return python_for_sandboxes(bootstrap)


def python_for_sandboxes(bootstrap: Path) -> str:
    """The Python that runs python3.x functions as sandbox users: the server's own, unless a
    sandbox user cannot run it (one installed under a private home, such as pyenv's under
    /root), then the machine's Python of the same version. Tried for real, as ``nobody``, since
    every directory on the way matters."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path=DEFAULT_PATH)):
        if python is None:
            continue
        # The bootstrap is opened too: it is read by the same user, through other directories.
        probe = [python, "-I", "-c", "import json, sys; open(sys.argv[1]).close()", str(bootstrap)]
        if _runs_as_nobody(probe):
            return python
    raise OSError(
        f"no Python that sandbox users may run: {sys.executable} (and {version} on "
        f"{DEFAULT_PATH}) or {bootstrap} cannot be read by other users; install them where "
        "every user can read them, or set sandbox_uids to none to run functions as the "
        "server's user (SECURITY.md)"
    )


def _runs_as_nobody(argv: list[str]) -> bool:
    try:
        done = subprocess.run(
            argv,
            user=65534,
            group=65534,
            extra_groups=[],
            env={"PATH": DEFAULT_PATH},
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


# -- whose is a connection ---------------------------------------------------------------

_NETLINK_SOCK_DIAG = 4  # not in the socket module
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NLMSG = struct.Struct("=IHHII")
_UID_OFFSET = _NLMSG.size + 4 + 48 + 12  # inet_diag_msg: 4 bytes, its sockid, 3 counters
_diag: socket.socket | None = None


def tcp_owner(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """The uid that owns the IPv4 TCP socket bound to ``local`` and connected to ``remote``
    (a client's end of a connection to this host), or None if there is none.

    One netlink request to sock_diag, an exact lookup by address and port (microseconds,
    whatever the number of sockets), with /proc/net/tcp as the fallback where sock_diag is
    missing."""
    global _diag
    sockid = (
        struct.pack("!HH", local[1], remote[1])
        + socket.inet_aton(local[0]).ljust(16, b"\0")
        + socket.inet_aton(remote[0]).ljust(16, b"\0")
        + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # any interface, no cookie
    )
    body = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    try:
        if _diag is None:  # one for the process's life, closed at its exit
            _diag = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
            atexit.register(_diag.close)
        header = _NLMSG.pack(_NLMSG.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 0, 0)
        _diag.send(header + body)
        answer = _diag.recv(8192)
    except OSError:
        return _tcp_owner_from_proc(local, remote)
    if len(answer) < _UID_OFFSET + 4 or _NLMSG.unpack_from(answer)[1] == _NLMSG_ERROR:
        return None
    return int(struct.unpack_from("=I", answer, _UID_OFFSET)[0])


def _tcp_owner_from_proc(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    def hex_address(address: tuple[str, int]) -> str:
        packed = struct.unpack("=I", socket.inet_aton(address[0]))[0]
        return f"{packed:08X}:{address[1]:04X}"

    wanted = (hex_address(local), hex_address(remote))
    with open("/proc/net/tcp") as table:
        for line in table:
            fields = line.split()
            if (fields[1], fields[2]) == wanted:
                return int(fields[7])
    return None
