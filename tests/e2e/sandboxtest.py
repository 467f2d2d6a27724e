"""Helpers shared by the sandbox end-to-end tests (test_sandbox_*.py):
a daemon configured with the sandbox drivers, running sandbox.exec tasks,
and looking at the host for what a run may have left behind.
"""

import os
import re
import time
import uuid

import mcpdtest as t

MiB = 1 << 20
DRIVERS = ("ns", "bwrap", "process")
ISOLATING = ("ns", "bwrap")

LIMITS = {"wall_ms": 20000, "cpu_ms": 20000, "memory_bytes": 512 * MiB,
          "pids": 128, "output_bytes": 1 * MiB, "file_bytes": 64 * MiB}


def driver_block(readonly_allow=(), **over):
    b = {"defaults": dict(LIMITS), "max": dict(LIMITS),
         "work_dir_bytes": 128 * MiB, "tmp_bytes": 64 * MiB,
         "readonly_allow": list(readonly_allow)}
    b.update(over)
    return b


def run_dir():
    """A scratch parent for the runs of one daemon, that a dedicated
    sandbox uid may traverse (so tests running at once do not see each
    other's runs)."""
    base = t.tempdir("mcpd-sbx-")
    os.chmod(base, 0o755)
    path = os.path.join(base, "runs")
    os.mkdir(path, 0o755)
    return path


def config(readonly_allow=(), default="sandbox-ns", blocks=None,
           runs=None, **top):
    """Daemon config with every sandbox driver configured alike (scratch
    dirs under `runs`); `blocks` overrides per plugin name."""
    o = {"run_dir": runs} if runs else {}
    plugins = {"sandbox-ns": driver_block(readonly_allow, **o),
               "sandbox-bwrap": driver_block(readonly_allow, **o),
               "sandbox-process": driver_block(readonly_allow, enabled=True,
                                               **o)}
    plugins.update(blocks or {})
    cfg = {"workers": 8, "drain_timeout_ms": 2000, "plugins": plugins,
           "services": {"sandbox": default}}
    cfg.update(top)
    return cfg


def loaded_drivers(d):
    """Short names of the sandbox driver plugins the daemon loaded."""
    st, _, body = d.get("/v1/plugins")
    names = set()
    if st == 200 and isinstance(body, dict):
        for p in body.get("plugins", []):
            if p.get("status") == "loaded" and \
                    "sandbox.exec" in (p.get("capabilities") or []):
                names.add((p.get("name") or "").replace("sandbox-", "", 1))
            elif (p.get("name") or "").startswith("sandbox-"):
                t.diag("%s: %s %s" % (p.get("name"), p.get("status"),
                                      p.get("reason")))
    return [n for n in DRIVERS if n in names]


def submit(d, inp, **fields):
    """POST a sandbox.exec task; -> its id or None (reported)."""
    return d.submit_ok("sandbox.exec", inp, **fields)


def run(d, driver, inp, timeout=30.0):
    """Run one sandbox.exec to its end -> the final task ({} if none)."""
    inp = dict(inp)
    if driver:
        inp["driver"] = driver
    tid = submit(d, inp)
    if not tid:
        return {}
    return d.wait_task(tid, timeout)


def result(task):
    r = task.get("result") if isinstance(task, dict) else None
    return r if isinstance(r, dict) else {}


def describe(task):
    """A short text of a task for diagnostics."""
    if task.get("status") != "succeeded":
        return "status %s error %r" % (task.get("status"), task.get("error"))
    r = dict(result(task))
    r.pop("enforced", None)
    for k in ("stdout", "stderr"):
        if isinstance(r.get(k), str) and len(r[k]) > 600:
            r[k] = r[k][:600] + "...(%d bytes)" % len(r[k])
    return repr(r)


def mark():
    """A unique marker to put in a run's argv and env."""
    return "s2mark%s" % uuid.uuid4().hex[:12]


def marked_pids(needle):
    """Host processes whose cmdline or environment contains `needle`."""
    found = []
    nb = needle.encode()
    me = os.getpid()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        for f in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (p, f), "rb") as fh:
                    if nb in fh.read():
                        found.append(int(p))
                        break
            except OSError:
                pass
    return found


def wait_gone(needle, timeout=3.0):
    """Wait until no host process carries `needle`; -> those left."""
    left = t.wait_until(lambda: not marked_pids(needle), timeout)
    return [] if left else marked_pids(needle)


def host_uids(pid):
    """(real, effective) uid of a host process, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    v = line.split()[1:3]
                    return int(v[0]), int(v[1])
    except OSError:
        pass
    return None


def cgroup_dirs():
    """Every cgroup directory (depth <= 3) on the host, to spot leaks."""
    out = set()
    root = "/sys/fs/cgroup"
    for base, dirs, _ in os.walk(root):
        if base[len(root):].count("/") >= 3:
            dirs[:] = []
        for x in dirs:
            out.add(os.path.join(base, x))
    return out


def mounts_under(path):
    """Mount points on the host at or below `path`."""
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f
                if ln.split()[4].startswith(path)]


def leaked_cgroups(before, pid):
    """Cgroups made since `before` below a sandbox parent by the daemon
    with `pid` (drivers name them <driver>-<pid>-...; other tests' daemons
    run beside this one)."""
    mark = re.compile(r"/mcpd-sandbox/[a-z]+-%d-" % pid)
    return sorted(c for c in cgroup_dirs() - before if mark.search(c))


def elapsed(fn):
    t0 = time.monotonic()
    v = fn()
    return v, time.monotonic() - t0
