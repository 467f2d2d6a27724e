#!/usr/bin/env python3
"""mcpctl against the real daemon: every command, --json output, and the
documented exit codes (0 ok, 1 task failed, 2 usage, 3 cannot connect,
4 server error)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (Daemon, closed_port, diag, done_testing, env, is_,
                      like, ok, run, tempdir)


def parse(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def main():
    ctl = env("MCPCTL_BIN")
    d = Daemon()
    url = "http://127.0.0.1:%d" % d.port
    envs = {"MCPD_URL": url}

    def mcpctl(*args, stdin=None, timeout=30, url_env=envs):
        rc, out, err = run([ctl] + list(args), env_extra=url_env,
                           timeout=timeout, stdin=stdin)
        return rc, out, err

    def expect(rc_want, args, name, **kw):
        rc, out, err = mcpctl(*args, **kw)
        if not is_(rc, rc_want, "%s: exit %d" % (name, rc_want)):
            diag("stdout: " + out)
            diag("stderr: " + err)
        return rc, out, err

    rc, out, _ = expect(0, ["health"], "health")
    like(out, "ok", "health says ok")
    rc, out, _ = expect(0, ["--json", "health"], "health --json")
    h = parse(out) or {}
    is_((h.get("healthz") or h).get("status"), "ok",
        "health --json has the healthz answer")

    rc, out, _ = expect(0, ["capabilities"], "capabilities")
    ok("echo" in out and "sleep" in out, "capabilities lists echo and sleep")
    rc, out, _ = expect(0, ["--json", "capabilities"], "capabilities --json")
    caps = (parse(out) or {}).get("capabilities", [])
    ok({"echo", "sleep"} <= {c.get("name") for c in caps},
       "capabilities --json has echo and sleep")

    rc, out, _ = expect(0, ["plugins"], "plugins")
    ok("echo" in out and "sleep" in out, "plugins lists echo and sleep")

    rc, out, _ = expect(0, ["submit", "echo", '{"a":1}', "--wait", "--json"],
                        "submit echo --wait --json")
    t = parse(out) or {}
    is_((t.get("status"), t.get("result")), ("succeeded", {"a": 1}),
        "the printed task succeeded with result {\"a\":1}")
    echo_id = t.get("id")

    tmp = tempdir()
    path = os.path.join(tmp, "input.json")
    with open(path, "w") as f:
        f.write('{"from": "file"}')
    rc, out, _ = expect(0, ["--json", "submit", "echo", "@" + path, "--wait"],
                        "submit echo @FILE")
    is_((parse(out) or {}).get("result"), {"from": "file"},
        "input read from @FILE")
    rc, out, _ = expect(0, ["--json", "submit", "echo", "-", "--wait"],
                        "submit echo - (stdin)", stdin=b'{"from": "stdin"}')
    is_((parse(out) or {}).get("result"), {"from": "stdin"},
        "input read from stdin")

    rc, out, err = expect(4, ["submit", "sleep", '{"ms": -1}'],
                          "submit sleep with bad input")
    like(err, "invalid_input", "the error code is on stderr")
    expect(4, ["get", "0" * 32], "get an unknown id")
    expect(4, ["submit", "no.such.cap", "{}"], "submit an unknown capability")
    expect(3, ["--url", "http://127.0.0.1:%d" % closed_port(), "submit",
               "echo", "{}"], "submit to a closed port")
    expect(3, ["health"], "MCPD_URL to a closed port",
           url_env={"MCPD_URL": "http://127.0.0.1:%d" % closed_port()})
    expect(2, ["frobnicate"], "an unknown command")
    expect(2, ["submit"], "submit without a capability")
    expect(2, ["submit", "echo", "{not json"], "submit with input not JSON")
    expect(2, ["list", "--limit"], "an option without its value")

    rc, out, _ = expect(1, ["--json", "submit", "sleep",
                            '{"ms": 10, "fail": true}', "--wait"],
                        "submit --wait on a failing task")
    t = parse(out) or {}
    is_((t.get("status"), (t.get("error") or {}).get("code")),
        ("failed", "requested_failure"), "the failed task is printed")

    rc, out, _ = expect(0, ["--json", "submit", "sleep", '{"ms": 30000}'],
                        "submit sleep (no wait)")
    sid = (parse(out) or {}).get("id")
    ok(sid and d.wait_status(sid, ("running",), 5), "the sleep task runs")
    rc, out, _ = expect(0, ["--json", "cancel", sid or "x"], "cancel")
    is_((parse(out) or {}).get("status"), "cancelled", "cancel prints it")
    rc, out, _ = expect(1, ["--json", "get", sid or "x"],
                        "get a cancelled task (exit 1: cancelled)")
    is_((parse(out) or {}).get("status"), "cancelled", "get shows cancelled")
    expect(4, ["cancel", sid or "x"], "cancel a finished task (409)")
    rc, out, _ = expect(0, ["get", echo_id or "x"], "get (human)")
    ok(echo_id and echo_id in out and "succeeded" in out,
       "human get shows id and status")

    rc, out, _ = expect(0, ["--json", "list"], "list --json")
    lst = parse(out)
    tasks = lst.get("tasks") if isinstance(lst, dict) else lst
    ids = [x.get("id") for x in tasks or []]
    ok(echo_id in ids and sid in ids, "list --json has our tasks")
    rc, out, _ = expect(0, ["--json", "list", "--status", "cancelled"],
                        "list --status cancelled")
    lst = parse(out)
    tasks = (lst.get("tasks") if isinstance(lst, dict) else lst) or []
    is_([x.get("id") for x in tasks], [sid], "only the cancelled task")
    rc, out, _ = expect(0, ["list", "--capability", "echo", "--limit", "2"],
                        "list (human) with filters")
    ok(out.strip() != "", "list prints something")

    rc, out, _ = expect(0, ["watch", echo_id or "x"], "watch a finished task",
                        timeout=15)
    like(out, "succeeded", "watch shows the final status")
    expect(1, ["watch", sid or "x"], "watch a cancelled task", timeout=15)

    rc, out, _ = expect(0, ["--help"], "--help")
    like(out, "submit", "--help describes submit")
    rc, out, err = expect(0, ["--version"], "--version")
    ok(any(ch.isdigit() for ch in out + err), "--version prints a version")

    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")
    done_testing()


main()
