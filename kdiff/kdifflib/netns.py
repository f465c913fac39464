"""Throw-away network namespaces, entered by this process's main thread.

Every namespace kdiff makes is named `kdiff<pid>-<n><role>`, so `--cleanup`
can find the ones a killed run left behind (their pid no longer exists)
without touching anybody else's.  Nothing is ever configured in the
namespace kdiff was started in.
"""
import contextlib
import ctypes
import os
import re
import subprocess

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
PREFIX = "kdiff"
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


@contextlib.contextmanager
def inside(name):
    """Run the body (and any process it starts) inside namespace `name`."""
    prev = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    try:
        _setns(fd)
        yield
    finally:
        _setns(prev)
        os.close(prev)
        os.close(fd)


def run(cmd, ns=None, input_text=None, check=True):
    """Run a command (a list), inside `ns` when given."""
    if ns is None:
        p = subprocess.run(cmd, input=input_text, capture_output=True, text=True)
    else:
        with inside(ns):
            p = subprocess.run(cmd, input=input_text, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def write_sysctl(ns, path, value):
    """Write /proc/sys/<path> (dots or slashes) inside `ns`."""
    path = "/proc/sys/" + path.replace(".", "/") if "/" not in path else "/proc/sys/" + path
    with inside(ns):
        with open(path, "w") as f:
            f.write(str(value))


_created = []
_counter = [0]


def new_names(roles):
    """Fresh unique names, one per role."""
    _counter[0] += 1
    base = "%s%d-%d" % (PREFIX, os.getpid(), _counter[0])
    return {r: base + r for r in roles}


def add(names):
    for n in names:
        _created.append(n)
        run(["ip", "netns", "add", n])


def delete(names):
    for n in names:
        if os.path.exists(os.path.join(NETNS_DIR, n)):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        if n in _created:
            _created.remove(n)


def delete_all_created():
    """What an interrupted run must not leave behind."""
    delete(list(_created))


def cleanup_stale(everything=False):
    """Delete kdiff namespaces whose run is gone (all of them with `everything`).
    Returns the names deleted."""
    gone = []
    if not os.path.isdir(NETNS_DIR):
        return gone
    for n in sorted(os.listdir(NETNS_DIR)):
        m = re.match(r"^%s(\d+)-\d+[a-z0-9]+$" % PREFIX, n)
        if not m:
            continue
        pid = int(m.group(1))
        alive = True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = False
        except PermissionError:
            pass
        if pid == os.getpid():
            alive = False
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    alive = False  # killed, not yet reaped
        except (OSError, IndexError):
            pass
        if everything or not alive:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
            gone.append(n)
    return gone
