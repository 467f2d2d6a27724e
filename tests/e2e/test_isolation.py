#!/usr/bin/env python3
"""Plugins configured with "isolation": "process": the loader leaves
crashy.so (tests/plugins/crashy.c) to the mcp-bridge plugin, which runs
it in a child mcpd-plugin-run and serves its capability under its own
name. A segfault costs the child only: the daemon stays up, the task
fails with server_exited (or succeeds on its retry), the next call is
served by a restarted child. Its config block reaches the child; a
reload that changes it starts a new child and reaps the old one; bad
isolation values are refused at start."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (Daemon, done_testing, env, is_, like, ok, run,
                      tempdir, wait_until, write_config)


def plugin_dir():
    d = tempdir()
    shutil.copy(os.path.join(env("MCPD_PLUGIN_DIR"), "mcp-bridge.so"), d)
    shutil.copy(os.path.join(env("MCPD_PLUGIN_DIR"), "echo.so"), d)
    shutil.copy(os.path.join(env("MCPD_TEST_PLUGIN_DIR"), "crashy.so"), d)
    return d


def cap_names(d):
    st, _, body = d.get("/v1/capabilities")
    return {c["name"] for c in body.get("capabilities", [])} \
        if st == 200 else set()


def call(d, inp, **fields):
    tid = d.submit_ok("crashy", inp, **fields)
    return d.wait_task(tid, 20) if tid else {}


def children(pid):
    """(pid, state) of the processes whose parent is pid."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(p), fields[0]))
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def main():
    pdir = plugin_dir()
    cfg = {"plugins": {"crashy": {"isolation": "process",
                                  "greeting": "hello"},
                       "mcp-bridge": {"restart_backoff_ms": 100}}}
    d = Daemon(plugin_dirs=[pdir], config=cfg)
    ok(wait_until(lambda: "crashy" in cap_names(d), 20),
       "the isolated plugin's capability is served under its own name")
    names = [p.get("name") for p in d.plugin_records()]
    is_((sorted(names), d.serving("mcp-bridge").get("capabilities")),
        (["echo", "mcp-bridge"], ["crashy"]),
        "crashy.so is not loaded in the daemon; the bridge serves it")

    r = call(d, {"value": 7})
    res = r.get("result") or {}
    pid1 = res.get("pid")
    is_((r.get("status"), res.get("value"), res.get("greeting")),
        ("succeeded", 7, "hello"),
        "a call succeeds, with the plugin's config block")
    ok(isinstance(pid1, int) and pid1 != d.proc.pid and
       pid1 in [c for c, _ in children(d.proc.pid)],
       "...in a child process of the daemon (pid %s)" % pid1)

    r = call(d, {"crash": True})
    is_((r.get("status"), r.get("error")),
        ("failed", {"code": "server_exited",
                    "message": "the process of isolated plugin crashy "
                               "killed by signal 11 (Segmentation fault)"}),
        "a segfault fails the task with server_exited and the signal")
    st, _, _ = d.get("/healthz")
    ok(st == 200 and d.running(), "the daemon is still up")
    ok(wait_until(lambda: "crashy" in cap_names(d), 20),
       "the capability is back after the restart")
    r = call(d, {"value": 8})
    pid2 = (r.get("result") or {}).get("pid")
    is_((r.get("status"), (r.get("result") or {}).get("value")),
        ("succeeded", 8), "the next call succeeds")
    ok(isinstance(pid2, int) and pid2 != pid1 and not alive(pid1),
       "...in a new child; the crashed one is reaped (%s -> %s)"
       % (pid1, pid2))

    marker = os.path.join(tempdir(), "crashed-once")
    r = call(d, {"crash_once": marker, "value": 9}, retries=2)
    is_((r.get("status"), r.get("attempts"),
         (r.get("result") or {}).get("value")),
        ("succeeded", 2, 9),
        "with retries, a task whose first attempt crashed the child "
        "succeeds on its second")

    st, _, body = d.submit("crashy", {"bogus": 1})
    is_((st, body.get("error", {}).get("code")), (422, "invalid_input"),
        "the plugin's input schema is enforced in the daemon")

    cfg["plugins"]["crashy"]["greeting"] = "bonjour"
    d.set_config(cfg)
    st, _, body = d.reload(wait=True)
    is_((st, body.get("status")), (200, "ok"), "a reload with a new "
                                               "config block succeeds")

    def greeting():
        r = call(d, {"value": 10})
        return (r.get("result") or {}).get("greeting") == "bonjour" and r
    r = wait_until(greeting, 20, 0.2)
    ok(r, "after the reload a new child runs with the new config")
    pid3 = ((r or {}).get("result") or {}).get("pid")
    ok(pid3 not in (pid1, pid2) and not alive(pid2),
       "...and the old child is gone (%s -> %s)" % (pid2, pid3))
    is_([c for c in children(d.proc.pid) if c[1] == "Z"], [],
        "the daemon has no zombie children")
    like(d.log_text(), "server crashy: ready",
         "the child's start is logged")

    is_(d.stop(), 0, "the daemon stops with exit code 0")
    ok(pid3 and not alive(pid3), "the child is gone with the daemon")

    bad = write_config({"plugins": {"echo": {"isolation": "thread"}}})
    rc, out, err = run([env("MCPD_BIN"), "--config", bad, "--state-dir",
                        os.path.join(tempdir(), "s"), "--plugin-dir", pdir,
                        "--listen", "127.0.0.1:0"], timeout=20)
    ok(rc != 0 and 'config: plugins.echo.isolation: must be "process" or '
       '"none"' in err, "an unknown isolation value is refused at start")
    done_testing()


if __name__ == "__main__":
    main()
