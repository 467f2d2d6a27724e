#!/usr/bin/env python3
# mcpd-test: no-valgrind (valgrind cannot run the namespace, seccomp
# and bwrap children these tests start; they run plain and under ASan)
"""sandbox.exec does its job (issue 7): for every sandbox driver the daemon
loaded (sandbox-ns, sandbox-bwrap, sandbox-process), compile and run a C
program with gcc, run pytest on a small project, round-trip stdin, report
exit codes and signals, keep the daemon's environment out, return files,
cap limits at the config maxima, refuse bad input, and stop a run when its
task is cancelled or the daemon is stopped -- leaving no process behind.
"""

import os
import signal
import time

import mcpdtest as t
import sandboxtest as sb

SECRET_ENV = "MCPD_S2_SECRET"
# Smaller caps than sandboxtest.LIMITS so that "capped" is observable.
MAX_OUTPUT = 512 * 1024

C_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	long sum = 0;
	for (int i = 1; i < argc; i++)
		sum += strtol(argv[i], NULL, 10);
	printf("sum=%ld\n", sum);
	return sum > 100 ? 3 : 0;
}
"""

PY_MOD = "def add(a, b):\n    return a + b\n"
PY_TESTS = ("from calc import add\n\n"
            "def test_add():\n    assert add(2, 3) == 5\n\n"
            "def test_neg():\n    assert add(-1, 1) == 0\n\n"
            "def test_wrong():\n    assert add(1, 1) == 3\n")


def check(drv, task, name):
    """The task succeeded with a result from `drv`; -> the result."""
    r = sb.result(task)
    if not t.ok(task.get("status") == "succeeded" and r.get("driver") == drv,
                "%s: %s runs" % (drv, name)):
        t.diag("    " + sb.describe(task))
    return r


def functional(d, drv):
    run = lambda inp, timeout=60: sb.run(d, drv, inp, timeout)  # noqa: E731

    r = check(drv, run({"argv": ["sh", "-c",
                                 "gcc -O1 -Wall -o sum sum.c && ./sum 40 2"],
                        "files": {"sum.c": C_PROGRAM}}), "gcc")
    t.is_((r.get("exit_code"), r.get("stdout")), (0, "sum=42\n"),
          "%s: a C program compiled with gcc inside runs" % drv)
    r = check(drv, run({"argv": ["./sum", "99", "2"],
                        "files": {"sum": {"base64": ""}}}), "empty file")
    t.ok(r.get("exit_code") not in (0, None),
         "%s: an empty file is not a program (exit %r)"
         % (drv, r.get("exit_code")))

    r = check(drv, run({"argv": ["python3", "-m", "pytest", "-q",
                                 "-p", "no:cacheprovider", "tests"],
                        "files": {"calc.py": PY_MOD,
                                  "tests/test_calc.py": PY_TESTS,
                                  "tests/conftest.py":
                                      "import sys\nsys.path.insert(0, '.')\n"},
                        }), "pytest")
    t.ok(r.get("exit_code") == 1 and
         "1 failed, 2 passed" in (r.get("stdout") or ""),
         "%s: pytest on a small project: 1 failed, 2 passed, exit 1 (%r)"
         % (drv, (r.get("stdout") or "")[-120:]))

    data = "".join("line %d é ✓\n" % i for i in range(20000))
    r = check(drv, run({"argv": ["cat"], "stdin": data}), "cat")
    t.ok(r.get("stdout") == data and r.get("exit_code") == 0,
         "%s: stdin round trip of %d bytes" % (drv, len(data.encode())))

    r = check(drv, run({"argv": ["sh", "-c", "echo out; echo err >&2; "
                                               "exit 42"]}), "exit 42")
    t.is_((r.get("exit_code"), r.get("signal"), r.get("stdout"),
           r.get("stderr")), (42, None, "out\n", "err\n"),
          "%s: exit code 42 and both streams" % drv)
    for sig in ("SEGV", "KILL", "TERM"):
        r = check(drv, run({"argv": ["sh", "-c", "kill -%s $$" % sig]}),
                  "kill -%s" % sig)
        t.is_((r.get("exit_code"), r.get("signal"), r.get("killed_by")),
              (None, "SIG" + sig, None),
              "%s: death by SIG%s reported as a signal" % (drv, sig))
    r = check(drv, run({"argv": ["python3", "-c",
                                 "import ctypes; ctypes.string_at(0)"]}),
              "segfault")
    t.is_(r.get("signal"), "SIGSEGV", "%s: a real segfault is SIGSEGV" % drv)
    r = check(drv, run({"argv": ["sh", "-c", "exit 139"]}), "exit 139")
    t.is_((r.get("exit_code"), r.get("signal")), (139, None),
          "%s: exit 139 is an exit code, not a signal" % drv)

    r = check(drv, run({"argv": ["env"], "env": {"FOO": "bar baz"}}), "env")
    out = r.get("stdout") or ""
    t.ok("FOO=bar baz" in out.splitlines() and SECRET_ENV not in out,
         "%s: env given is set, the daemon's is not inherited" % drv)

    r = check(drv, run({"argv": ["sh", "-c",
                                 "echo new > new.txt; mkdir -p d; "
                                 "printf '\\377\\000' > d/bin; "
                                 "echo changed > keep.txt"],
                        "files": {"keep.txt": "old\n", "same.txt": "same\n"},
                        "return_files": True}), "return_files")
    files = r.get("files") or {}
    t.is_(sorted(files), ["d/bin", "keep.txt", "new.txt"],
          "%s: files returns the new and changed files" % drv)
    t.is_((files.get("new.txt"), files.get("keep.txt"), files.get("d/bin")),
          ("new\n", "changed\n", {"base64": "/wA="}),
          "%s: text as strings, binary as base64" % drv)
    r = check(drv, run({"argv": ["true"], "files": {"a": "x"}}),
              "no return_files")
    t.ok("files" not in r or r.get("files") is None,
         "%s: no files unless asked" % drv)

    r = check(drv, run({"argv": ["sh", "-c", "head -c 1000000 /dev/zero"],
                        "limits": {"output_bytes": 10 ** 9}}), "capped")
    lim = (r.get("enforced") or {}).get("limits") or {}
    t.ok(lim.get("output_bytes") == MAX_OUTPUT and
         len((r.get("stdout") or "").encode()) <= MAX_OUTPUT and
         r.get("stdout_truncated") is True,
         "%s: output_bytes 1e9 capped at the config max %d (%r)"
         % (drv, MAX_OUTPUT, lim.get("output_bytes")))
    r = check(drv, run({"argv": ["true"]}), "defaults")
    lim = (r.get("enforced") or {}).get("limits") or {}
    t.is_(lim.get("wall_ms"), 7000, "%s: wall_ms defaults from config" % drv)
    e = r.get("enforced") or {}
    t.is_(e.get("isolated"), drv != "process",
          "%s: enforced.isolated says %s" % (drv, drv != "process"))


def bad_inputs(d, drv):
    cases = [
        ("no argv", {}),
        ("empty argv", {"argv": []}),
        ("argv not strings", {"argv": [1, 2]}),
        ("unknown key", {"argv": ["true"], "nope": 1}),
        ("negative limit", {"argv": ["true"], "limits": {"wall_ms": -5}}),
        ("env not strings", {"argv": ["true"], "env": {"A": 1}}),
        ("file path ..", {"argv": ["true"], "files": {"../x": "y"}}),
        ("readonly path not allowed", {"argv": ["true"],
                                       "readonly_paths": ["/etc"]}),
        ("unknown driver", {"argv": ["true"], "driver": "nosuch"}),
    ]
    for name, inp in cases:
        if drv and "driver" not in inp:
            inp = dict(inp, driver=drv)
        st, _, body = d.submit("sandbox.exec", inp)
        if st == 201:
            task = d.wait_task(body.get("id"), 20)
            code = (task.get("error") or {}).get("code")
            good = task.get("status") == "failed" and code in (
                "bad_input", "no_driver")
            got = "task %s %s" % (task.get("status"), code)
        else:
            good = st == 422 and t.error_code(body) == "invalid_input"
            got = "%s %s" % (st, t.error_code(body))
        t.ok(good, "%s: bad input refused: %s (%s)" % (drv, name, got))


def start_marked(d, drv, mk):
    """Start `sleep 30` marked `mk`; -> task id once its process is seen."""
    tid = sb.submit(d, {"argv": ["sh", "-c", "sleep 30; echo late"],
                        "driver": drv, "env": {"MARK": mk},
                        "limits": {"wall_ms": 60000}})
    seen = t.wait_until(lambda: sb.marked_pids(mk), 10)
    t.ok(tid and seen, "%s: the run's processes are visible on the host"
         % drv)
    return tid


def cancel(d, drv):
    mk = sb.mark()
    tid = start_marked(d, drv, mk)
    t0 = time.monotonic()
    st, _, body = d.delete("/v1/tasks/%s" % tid)
    t.is_((st, body.get("status") if isinstance(body, dict) else None),
          (200, "cancelled"), "%s: DELETE cancels the running task" % drv)
    left = sb.wait_gone(mk, 5)
    took = time.monotonic() - t0
    t.ok(not left and took < 5 * t.SLOW,
         "%s: cancelled run's processes gone in %.2f s (left %s)"
         % (drv, took, left))


def sigterm(drivers):
    """SIGTERM to the daemon in the middle of runs leaves nothing."""
    d = t.Daemon(config=sb.config(runs=sb.run_dir(),
                                  drain_timeout_ms=500))
    marks = {}
    for drv in drivers:
        marks[drv] = sb.mark()
        start_marked(d, drv, marks[drv])
    code = d.stop(timeout=20)
    t.is_(code, 0, "daemon stops with 0 on SIGTERM during runs")
    for drv, mk in marks.items():
        left = sb.wait_gone(mk, 5)
        t.is_(left, [], "%s: no process left after the daemon stopped" % drv)
        for pid in left:
            os.kill(pid, signal.SIGKILL)


def main():
    os.environ[SECRET_ENV] = "leak-%s" % sb.mark()  # the daemon inherits it
    runs = sb.run_dir()
    blocks = {}
    for name, extra in (("sandbox-ns", {}), ("sandbox-bwrap", {}),
                        ("sandbox-process", {"enabled": True})):
        b = sb.driver_block(run_dir=runs, **extra)
        b["max"]["output_bytes"] = MAX_OUTPUT
        b["defaults"]["output_bytes"] = MAX_OUTPUT
        b["defaults"]["wall_ms"] = 7000
        blocks[name] = b
    d = t.Daemon(config=sb.config(blocks=blocks))
    drivers = sb.loaded_drivers(d)
    t.diag("sandbox drivers loaded: %s" % (drivers or "none"))
    if not drivers:
        d.stop()
        t.skip_all("no sandbox driver is loaded")
    cg0 = sb.cgroup_dirs()
    for drv in drivers:
        functional(d, drv)
        bad_inputs(d, drv)
        cancel(d, drv)

    # The capability with the default driver (services.sandbox).
    task = sb.run(d, None, {"argv": ["echo", "default"]})
    r = sb.result(task)
    if "ns" in drivers:
        t.is_((r.get("stdout"), r.get("driver")), ("default\n", "ns"),
              "sandbox.exec without a driver runs on the default (ns)")
    else:
        t.is_(task.get("status"), "failed",
              "without the configured default driver loaded, a task "
              "naming none fails (%r)" % task.get("error"))
    st, _, body = d.get("/v1/capabilities")
    caps = {c.get("name"): c for c in body.get("capabilities", [])} \
        if isinstance(body, dict) else {}
    provs = {p.get("plugin") for p in
             caps.get("sandbox.exec", {}).get("providers", [])}
    t.is_(provs, {"sandbox-" + x for x in drivers},
          "every loaded driver provides sandbox.exec")
    pid = d.proc.pid
    d.stop()
    t.is_(sb.leaked_cgroups(cg0, pid), [], "no per-run cgroup left")
    t.is_(sb.mounts_under(runs), [], "no mount left")
    t.is_(os.listdir(runs), [], "no scratch dir left")
    sigterm(drivers)
    t.done_testing()


if __name__ == "__main__":
    main()
