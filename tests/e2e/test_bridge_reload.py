#!/usr/bin/env python3
"""Bridged capabilities survive reloads and restarts (plugins/mcp-bridge,
cache.c): each server's last tool list is kept in the bridge's kv space
and declared by every new generation's init, so no submission is refused
while a new generation's servers start; calls wait for their server.

The MCP server is this file run with --serve: a small legacy (2025-11-25)
stdio server whose tool set, start delay and start gate (it does not
answer initialize until a file exists) come from its arguments, so the
"server not up yet" windows are made by the test, not by timing. Next to
it, tests/plugins/crashy.c runs isolated (mcpd-plugin-run).

Checked: a stream of REST submissions to a bridged tool and to the
isolated plugin across reloads that replace the bridge generation (config
block changed, isolated .so touched) gets 201 for every submission and
every task succeeds; a call parked before its server is up is sent when
the server is, a cancelled one ends cancelled, one for a tool the server
no longer lists fails with tool_unavailable, and the declared set is made
to match the real list; a server that does not come up fails the waiting
call with server_unavailable within start_timeout_ms and has its cached
capabilities withdrawn until it lists them; a restart with a queued task
for a bridged capability runs it once the server is up; a server removed
from the config is not declared again from the cache."""

import json
import os
import sys
import threading
import time

if __name__ == "__main__" and "--serve" in sys.argv:
    SERVE = True
else:
    SERVE = False
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mcpdtest import (SLOW, Daemon, diag, done_testing, env, is_, like,
                          ok, tempdir, wait_until)

# ------------------------------------------------------------ the server

SCHEMA = {"type": "object", "additionalProperties": False,
          "required": ["a", "b"],
          "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
OPS = {"add": ("sum", lambda a, b: a + b),
       "sub": ("diff", lambda a, b: a - b),
       "mul": ("product", lambda a, b: a * b)}


def tool_def(name):
    key = OPS[name][0]
    return {"name": name, "title": name.capitalize(),
            "description": "%s of a and b" % key,
            "inputSchema": SCHEMA,
            "outputSchema": {"type": "object", "required": [key],
                             "properties": {key: {"type": "integer"}}}}


def serve(argv):
    opts = {"--tools": "add,sub", "--version": "1", "--gate": "",
            "--delay-ms": "0"}
    for i, a in enumerate(argv):
        if a in opts:
            opts[a] = argv[i + 1]
    tools = [t for t in opts["--tools"].split(",") if t]

    def send(msg):
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    while True:
        line = sys.stdin.readline()
        if not line:
            return
        msg = json.loads(line)
        method, mid = msg.get("method"), msg.get("id")
        if mid is None:
            continue  # notifications
        if method == "initialize":
            while opts["--gate"] and not os.path.exists(opts["--gate"]):
                time.sleep(0.02)
            time.sleep(int(opts["--delay-ms"]) / 1000.0)
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "pyserve",
                               "version": opts["--version"]}}})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "tools": [tool_def(t) for t in tools]}})
        elif method == "tools/call" and msg["params"]["name"] in tools:
            name = msg["params"]["name"]
            args = msg["params"].get("arguments", {})
            key, fn = OPS[name]
            out = {key: fn(args["a"], args["b"]), "pid": os.getpid()}
            send({"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": json.dumps(out)}],
                "structuredContent": out}})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": mid, "result": {}})
        else:  # server/discover too: a legacy server
            send({"jsonrpc": "2.0", "id": mid, "error": {
                "code": -32601, "message": "no method %s" % method}})


# ------------------------------------------------------------ the test

def caps(d):
    st, _, body = d.get("/v1/capabilities")
    if st != 200:
        return {}
    return {c["name"]: c for c in body.get("capabilities", [])}


def py_caps(d):
    return sorted(n for n in caps(d) if n.startswith("py."))


def touch(path, step):
    st = os.stat(path)
    t = st.st_mtime + step
    os.utime(path, (t, t))


class Config:
    """The daemon config, rebuilt from a few knobs."""

    def __init__(self):
        self.tools = "add,sub"
        self.gate = None
        self.backoff = 100
        self.bridge = {}
        self.with_py = True

    def json(self):
        args = [os.path.abspath(__file__), "--serve", "--tools",
                self.tools, "--delay-ms", "300"]
        if self.gate:
            args += ["--gate", self.gate]
        block = {"restart_backoff_ms": self.backoff}
        block.update(self.bridge)
        if self.with_py:
            block["servers"] = {"py": {"command": sys.executable,
                                       "args": args}}
        return {"plugins": {"crashy": {"isolation": "process",
                                       "greeting": "hello"},
                            "mcp-bridge": block}}


def reload(d, cfg, what):
    d.set_config(cfg.json())
    st, _, body = d.reload(wait=True)
    gens = [x.get("generation") for x in body.get("loaded", [])
            if x.get("name") == "mcp-bridge"]
    ok(st == 200 and body.get("status") == "ok" and len(gens) == 1,
       "reload (%s) loads a new bridge generation" % what)
    if st != 200 or body.get("status") != "ok":
        diag("reload: %s %r" % (st, body))


def test_stream(d, cfg, crashy_so):
    """Submissions keep coming while four reloads replace the bridge."""
    acks, refused = [], []
    stop = threading.Event()

    def submitter():
        i = 0
        while not stop.is_set():
            i += 1
            for cap, inp in (("py.add", {"a": i, "b": 1000}),
                             ("crashy", {"value": i})):
                st, _, body = d.submit(cap, inp)
                if st == 201:
                    acks.append((cap, i, body.get("id")))
                else:
                    refused.append((cap, i, st, body))
            time.sleep(0.02)

    th = threading.Thread(target=submitter)
    th.start()
    try:
        time.sleep(0.5 * SLOW)
        for n in range(4):
            if n % 2 == 0:
                cfg.backoff += 1
                reload(d, cfg, "bridge config block changed")
            else:
                touch(crashy_so, n + 1)
                reload(d, cfg, "isolated crashy.so touched")
            time.sleep(0.8 * SLOW)
    finally:
        stop.set()
        th.join()
    if not ok(not refused, "no submission was refused during the reloads"):
        diag("%d refused, the first: %r" % (len(refused), refused[:3]))
    ok(len(acks) >= 20, "the stream was acknowledged %d times" % len(acks))
    bad = []
    for cap, i, tid in acks:
        t = d.wait_task(tid, 30)
        res = t.get("result") or {}
        want = ("sum", i + 1000) if cap == "py.add" else ("value", i)
        if t.get("status") != "succeeded" or res.get(want[0]) != want[1]:
            bad.append((cap, i, t.get("status"), t.get("error")))
    is_(bad, [], "every acknowledged task succeeded with its own result")
    log = d.log_text()
    is_((log.count("server py: 2 capabilities declared from its cached "
                   "tool list"),
         log.count("server crashy: 1 capability declared from its cached "
                   "tool list")), (4, 4),
        "each of the 4 new generations declared py's and crashy's cached "
        "tools")


def test_parked(d, cfg, tmp):
    """Gated server: the cached set is declared, calls wait, then the
    real list (add, mul) replaces it."""
    cfg.gate = os.path.join(tmp, "gate1")
    cfg.tools = "add,mul"
    reload(d, cfg, "server gated, tools add,mul")
    is_(py_caps(d), ["py.add", "py.sub"],
        "while the server is not up the cached capabilities are served")
    add = d.submit_ok("py.add", {"a": 2, "b": 3})
    sub = d.submit_ok("py.sub", {"a": 5, "b": 1})
    gone = d.submit_ok("py.add", {"a": 1, "b": 1})
    st, _, body = d.submit("py.add", {"a": "x", "b": 1})
    is_((st, (body.get("error") or {}).get("code")), (422, "invalid_input"),
        "the cached input schema is the server's (a string a is refused)")
    ok(d.wait_status(add, ("running",), 10) and
       d.wait_status(sub, ("running",), 10),
       "calls to the not-yet-connected server wait (running)")
    d.delete("/v1/tasks/%s" % gone)
    t = d.wait_task(gone, 10)
    is_(t.get("status"), "cancelled", "a waiting call can be cancelled")
    is_(d.task(add).get("status"), "running",
        "...the others still wait for the server")
    open(cfg.gate, "w").close()
    t = d.wait_task(add, 20)
    is_((t.get("status"), (t.get("result") or {}).get("sum")),
        ("succeeded", 5), "once the server is up the waiting call is sent")
    t = d.wait_task(sub, 20)
    is_((t.get("status"), t.get("error")),
        ("failed", {"code": "tool_unavailable",
                    "message": 'MCP server py no longer offers tool "sub"'}),
        "a waiting call of a tool the server no longer lists fails "
        "with tool_unavailable")
    ok(wait_until(lambda: py_caps(d) == ["py.add", "py.mul"], 10),
       "the declared set now matches the server's list (sub withdrawn, "
       "mul added)")
    tid = d.submit_ok("py.mul", {"a": 6, "b": 7})
    t = d.wait_task(tid, 20) if tid else {}
    is_((t.get("status"), (t.get("result") or {}).get("product")),
        ("succeeded", 42), "py.mul answers")


def test_never_up(d, cfg, tmp):
    """A server that does not come up within start_timeout_ms."""
    cfg.gate = os.path.join(tmp, "gate2")
    cfg.bridge = {"start_timeout_ms": 1500}
    reload(d, cfg, "server gated, start_timeout_ms 1500")
    is_(py_caps(d), ["py.add", "py.mul"],
        "the cached capabilities (add, mul) are declared")
    tid = d.submit_ok("py.add", {"a": 1, "b": 2})
    t = d.wait_task(tid, 20) if tid else {}
    is_((t.get("status"), t.get("error")),
        ("failed", {"code": "server_unavailable",
                    "message": "MCP server py is not connected: it did not "
                               "come up within 1500 ms"}),
        "a call waits at most start_timeout_ms, then fails with "
        "server_unavailable")
    ok(wait_until(lambda: py_caps(d) == [], 10),
       "the cached capabilities are withdrawn after start_timeout_ms")
    like(d.log_text(), "server py: not ready after 1500 ms; the 2 "
         "capabilities declared from its cached tool list are withdrawn",
         "...and the log says why")
    open(cfg.gate, "w").close()
    ok(wait_until(lambda: py_caps(d) == ["py.add", "py.mul"], 20),
       "they come back when the server is up and lists its tools")
    cfg.bridge = {}


def test_restart(d, cfg, tmp):
    """A task queued for a bridged capability when the daemon died runs
    after the restart; submissions right after the start are accepted."""
    cfg.gate = os.path.join(tmp, "gate3")
    cfg.bridge = {"max_concurrency": 1}
    reload(d, cfg, "server gated, max_concurrency 1")
    first = d.submit_ok("py.add", {"a": 10, "b": 1}, retries=1)
    queued = d.submit_ok("py.add", {"a": 20, "b": 2})
    ok(d.wait_status(first, ("running",), 10) and
       d.wait_status(queued, ("queued",), 10),
       "with one slot, one call waits for the server and one is queued")
    d.kill()
    d.start()
    is_(py_caps(d), ["py.add", "py.mul"],
        "right after the restart the bridged capabilities are served "
        "(server still not up)")
    fresh = d.submit_ok("py.add", {"a": 30, "b": 3})
    like(d.log_text(), "recovered 2 unfinished tasks",
         "the daemon recovered both tasks")
    open(cfg.gate, "w").close()
    for tid, want, what in ((queued, 22, "the queued task"),
                            (first, 11, "the interrupted task (retried)"),
                            (fresh, 33, "a task submitted at start")):
        t = d.wait_task(tid, 30) if tid else {}
        is_((t.get("status"), (t.get("result") or {}).get("sum")),
            ("succeeded", want), "%s succeeds once the server is up" % what)
    cfg.bridge = {}


def test_removed(d, cfg, tmp):
    """A server removed from the config stays removed; its cache entry
    is deleted."""
    cfg.with_py = False
    reload(d, cfg, "server py removed")
    is_(py_caps(d), [], "the removed server's capabilities are gone")
    like(d.log_text(), "server py left the config: its cached tool list "
         "is deleted", "its cache entry is deleted")
    is_(d.stop(), 0, "the daemon stops with exit code 0")
    d.start()
    ok(wait_until(lambda: "crashy" in caps(d), 20),
       "after a restart the isolated plugin is served")
    is_(py_caps(d), [], "...and py is not declared from the cache")
    cfg.with_py = True
    cfg.gate = os.path.join(tmp, "gate4")
    reload(d, cfg, "server py added back, gated")
    is_(py_caps(d), [], "added back, py has no stale cached tools: its "
                        "capabilities wait for its listing")
    open(cfg.gate, "w").close()
    ok(wait_until(lambda: py_caps(d) == ["py.add", "py.mul"], 20),
       "...which declares them")


def main():
    pdir = tempdir()
    for name in ("mcp-bridge.so",):
        with open(os.path.join(env("MCPD_PLUGIN_DIR"), name), "rb") as f, \
                open(os.path.join(pdir, name), "wb") as g:
            g.write(f.read())
    crashy_so = os.path.join(pdir, "crashy.so")
    with open(os.path.join(env("MCPD_TEST_PLUGIN_DIR"), "crashy.so"),
              "rb") as f, open(crashy_so, "wb") as g:
        g.write(f.read())
    tmp = tempdir()
    cfg = Config()
    d = Daemon(plugin_dirs=[pdir], config=cfg.json())
    ok(wait_until(lambda: {"py.add", "py.sub", "crashy"} <= set(caps(d)),
                  20),
       "first start (no cache): the tools become capabilities once listed")
    is_(caps(d).get("py.add", {}).get("input_schema"), SCHEMA,
        "py.add's input schema is the server's")
    test_stream(d, cfg, crashy_so)
    test_parked(d, cfg, tmp)
    test_never_up(d, cfg, tmp)
    test_restart(d, cfg, tmp)
    test_removed(d, cfg, tmp)
    is_(d.stop(), 0, "the daemon stops with exit code 0")
    done_testing()


if __name__ == "__main__":
    if SERVE:
        serve(sys.argv)
    else:
        main()
