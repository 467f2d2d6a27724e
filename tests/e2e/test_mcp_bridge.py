#!/usr/bin/env python3
"""The mcp-bridge plugin attached to real MCP servers: a server written
with the official TypeScript SDK (@modelcontextprotocol/server 2.x over
stdio, which the bridge speaks 2026-07-28 to; the same server on
@modelcontextprotocol/sdk 1.x, spoken to with the legacy handshake, over
stdio and over Streamable HTTP with a bearer token from the environment),
a second mcpd started as `mcpd --stdio`, and a third mcpd's /mcp
(2026-07-28 over HTTP). Their tools are called
through the REST API and through mcpd's own MCP endpoints (`mcpd --stdio`
and POST /mcp): results, tool errors and mcpd error codes, progress,
cancellation (the server hears notifications/cancelled), a tool added at
run time (tools/list_changed), names sanitized and disambiguated, and a
killed server whose capabilities go and come back."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (SLOW, WRAPPER, Daemon, diag, done_testing, env,
                      free_port, is_, like, ok, tempdir, wait_until,
                      write_config)

MODERN = "2026-07-28"
TOKEN_VAR = "MCPD_BRIDGE_TEST_TOKEN"


def node_paths():
    """Node 22 and the SDKs from tests/mcp-clients; a clear failure when
    `npm ci` has not been run there."""
    root = os.path.join(env("MCPD_SOURCE_DIR"), "tests", "mcp-clients")
    node = os.path.join(root, "node_modules", ".bin", "node")
    server = os.path.join(root, "servers", "tools.mjs")
    for pkg in ("@modelcontextprotocol/server", "@modelcontextprotocol/sdk"):
        if not os.path.isdir(os.path.join(root, "node_modules", pkg)):
            node = None
    if not node or not os.access(node, os.X_OK):
        ok(False, "tests/mcp-clients/node_modules is installed (run "
                  "`npm ci` in tests/mcp-clients, as ./dev test does)")
        done_testing()
    return node, server


def plugin_dir():
    """A plugin dir with the bridge only (the servers bring the tools)."""
    d = tempdir()
    shutil.copy(os.path.join(env("MCPD_PLUGIN_DIR"), "mcp-bridge.so"), d)
    return d


def inner_plugin_dir():
    d = tempdir()
    for name in ("echo.so", "sleep.so"):
        shutil.copy(os.path.join(env("MCPD_PLUGIN_DIR"), name), d)
    return d


def caps(d):
    st, _, body = d.get("/v1/capabilities")
    if st != 200:
        return {}
    return {c["name"]: c for c in body.get("capabilities", [])}


def wait_caps(d, names, present=True, timeout=20.0):
    def probe():
        have = caps(d)
        return all((n in have) == present for n in names)
    return wait_until(probe, timeout, 0.1)


def run(d, cap, inp, timeout=20.0, **fields):
    tid = d.submit_ok(cap, inp, **fields)
    return d.wait_task(tid, timeout) if tid else {}


def bridge_config(node, server, inner_state, inner_plugins, http_port,
                  far_port):
    return {"plugins": {"mcp-bridge": {
        # Long enough to see a dead server's capabilities gone.
        "restart_backoff_ms": 1000,
        "servers": {
            "ext": {"command": node, "args": [server]},
            "ext1": {"command": node, "args": [server, "--sdk1"]},
            "web": {"url": "http://127.0.0.1:%d/mcp" % http_port,
                    "headers": {"Authorization":
                                "Bearer ${%s}" % TOKEN_VAR}},
            "far": {"url": "http://127.0.0.1:%d/mcp" % far_port},
            "inner": {"command": env("MCPD_BIN"),
                      "args": ["--stdio", "--state-dir", inner_state,
                               "--plugin-dir", inner_plugins]},
        }}}}


# ------------------------------------------------------------- REST

def test_rest(d):
    r = run(d, "ext.add", {"a": 2, "b": 3})
    is_((r.get("status"), r.get("result")), ("succeeded", {"sum": 5}),
        "ext.add (server 2.x, 2026-07-28): structuredContent is the result")
    r = run(d, "ext1.add", {"a": 20, "b": 22})
    is_((r.get("status"), r.get("result")), ("succeeded", {"sum": 42}),
        "ext1.add (sdk 1.x, legacy handshake) answers")
    r = run(d, "web.add", {"a": 1, "b": 1})
    is_((r.get("status"), r.get("result")), ("succeeded", {"sum": 2}),
        "web.add (Streamable HTTP, session, bearer from ${VAR}) answers")
    r = run(d, "inner.echo", {"x": [1, "two", None]})
    is_((r.get("status"), r.get("result")),
        ("succeeded", {"x": [1, "two", None]}),
        "inner.echo (mcpd --stdio child) answers its input")
    r = run(d, "far.echo", {"over": "http"})
    is_((r.get("status"), r.get("result")),
        ("succeeded", {"over": "http"}),
        "far.echo (another mcpd's /mcp, 2026-07-28 over HTTP) answers")
    log = d.log_text()
    for srv, rev in (("ext", "2026-07-28"), ("ext1", "2025-11-25"),
                     ("web", "2025-11-25"), ("far", "2026-07-28"),
                     ("inner", "2026-07-28")):
        like(log, "server %s: ready (MCP %s" % (srv, rev),
             "%s is spoken to in MCP %s" % (srv, rev))
    r = run(d, "ext.fail", {})
    is_((r.get("status"), (r.get("error") or {}).get("code"),
         (r.get("error") or {}).get("message")),
        ("failed", "tool_error", "you asked for an error"),
        "an isError result fails the task with code tool_error and its text")
    r = run(d, "inner.sleep", {"ms": 10, "fail": True})
    is_((r.get("status"), r.get("error")),
        ("failed", {"code": "requested_failure",
                    "message": "failed because the input asked to"}),
        "an mcpd child's task error keeps its code and message")
    st, _, body = d.submit("ext.add", {"a": "x", "b": 1})
    is_((st, body.get("error", {}).get("code")), (422, "invalid_input"),
        "the server's inputSchema is enforced by mcpd before the call")
    r = run(d, "ext.x_y", {})
    r2 = run(d, "ext.x_y-2", {})
    texts = sorted(json.dumps(x.get("result")) for x in (r, r2))
    is_(texts, sorted([json.dumps({"content": [{"type": "text",
                                                "text": "x y"}]}),
                       json.dumps({"content": [{"type": "text",
                                                "text": "x_y"}]})]),
        "tools \"x y\" and \"x_y\" are capabilities ext.x_y and ext.x_y-2 "
        "(sanitized, then disambiguated); text-only results as content")
    c = caps(d).get("ext.add", {})
    prov = (c.get("providers") or [{}])[0]
    is_((c.get("title"), c.get("version"),
         prov.get("attributes", {}).get("readOnlyHint"),
         prov.get("attributes", {}).get("mcp_tool")),
        ("Add", "3.1.4", True, "add"),
        "title, server version and annotations come through")


def test_progress_and_cancel(d):
    tid = d.submit_ok("ext.slow", {"steps": 4, "ms": 150})
    _, _, evs, ended = d.events(tid, 20)
    prog = [e["data"] for e in evs if e.get("event") == "progress" or
            (isinstance(e.get("data"), dict) and
             e["data"].get("type") == "progress")]
    done = [p.get("done") for p in prog]
    ok(ended and prog and done == sorted(set(done)) and
       set(done) <= {1, 2, 3, 4},
       "notifications/progress became task progress, increasing")
    if prog:
        is_((prog[-1].get("done"), prog[-1].get("total"),
             prog[-1].get("message")), (4, 4, "step 4"),
            "the last progress is 4 of 4 with the server's message")
    is_(d.task(tid).get("result"),
        {"content": [{"type": "text", "text": "counted to 4"}]},
        "...and the call's result arrives after it")

    tid = d.submit_ok("ext.slow", {"steps": 200, "ms": 100})
    ok(d.wait_status(tid, ("running",), 10), "a long ext.slow runs")
    time.sleep(0.3)
    st, _, body = d.delete("/v1/tasks/%s" % tid)
    is_((st, body.get("status")), (200, "cancelled"),
        "cancelling the task answers 200 cancelled")
    ok(wait_until(lambda: "slow: cancelled by the client" in d.log_text(),
                  10),
       "the server got notifications/cancelled (its handler was aborted)")

    tid = d.submit_ok("inner.sleep", {"ms": 30000})
    ok(d.wait_status(tid, ("running",), 10), "a long inner.sleep runs")
    d.delete("/v1/tasks/%s" % tid)
    ok(wait_until(lambda: "MCP client cancelled the call" in d.log_text(),
                  10),
       "the mcpd child cancelled its own task (its log, through stderr)")


def test_http_cancel(d, far):
    tid = d.submit_ok("far.sleep", {"ms": 30000})
    ok(d.wait_status(tid, ("running",), 10), "a long far.sleep runs")
    d.delete("/v1/tasks/%s" % tid)
    ok(wait_until(lambda: "MCP client cancelled the call: the client "
                          "closed the HTTP stream" in far.log_text(), 10),
       "over 2026-07-28 HTTP the call is cancelled by closing its stream")


def test_list_changed(d):
    for srv in ("ext", "ext1"):
        r = run(d, srv + ".add_tool", {"name": "late", "reply": "hi " + srv})
        is_(r.get("status"), "succeeded", srv + ".add_tool ran")
        ok(wait_caps(d, [srv + ".late"], True, 15),
           "tools/list_changed from %s: capability %s.late appears"
           % (srv, srv))
        r = run(d, srv + ".late", {})
        is_(r.get("result"), {"content": [{"type": "text",
                                           "text": "hi " + srv}]},
            "%s.late answers" % srv)


def test_server_death(d):
    r = run(d, "ext.pid", {})
    pid = (r.get("result") or {}).get("pid")
    ok(isinstance(pid, int) and pid > 1, "ext.pid gives the server's pid")
    tid = d.submit_ok("ext.slow", {"steps": 300, "ms": 100})
    ok(d.wait_status(tid, ("running",), 10), "a call is in flight")
    os.kill(pid, signal.SIGKILL)
    t = d.wait_task(tid, 15)
    is_((t.get("status"), (t.get("error") or {}).get("code"),
         (t.get("error") or {}).get("message")),
        ("failed", "server_exited", "MCP server ext killed by signal 9 "
                                    "(Killed)"),
        "the in-flight call fails with server_exited and the reason")
    ok(wait_caps(d, ["ext.add", "ext.late"], False, 10),
       "the dead server's capabilities are withdrawn")
    like(d.log_text(), "server ext: killed by signal 9 (Killed); restart 1 "
         "in 1000 ms", "...and it is restarted after the backoff")
    ok(wait_caps(d, ["ext.add", "ext.pid"], True, 20),
       "...and come back when it was restarted")
    r = run(d, "ext.pid", {})
    pid2 = (r.get("result") or {}).get("pid")
    ok(isinstance(pid2, int) and pid2 != pid,
       "a new server process serves them (pid %s -> %s)" % (pid, pid2))
    ok("ext.late" not in caps(d),
       "a run-time tool of the old process is not served by the new one")
    like(d.log_text(), "server ext: killed by signal 9",
         "the death is in mcpd's log")
    like(d.log_text(), "server ext stderr: tools.mjs: serving on stdio",
         "the server's stderr is in mcpd's log, line by line")


# ------------------------------------------------------------- MCP

class Stdio:
    """`mcpd --stdio` with the same bridge config, spoken to in 2026-07-28."""

    def __init__(self, argv):
        self.errf = open(os.path.join(tempdir(), "stderr"), "wb")
        self.proc = subprocess.Popen(WRAPPER + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.errf)
        self.buf = b""
        self.msgs = []

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def until(self, pred, timeout):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            for m in self.msgs:
                if pred(m):
                    return m
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buf += chunk
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    self.msgs.append(json.loads(line))
        return None

    def call(self, id_, method, params, timeout=20.0):
        meta = params.setdefault("_meta", {})
        meta.update({"io.modelcontextprotocol/protocolVersion": MODERN,
                     "io.modelcontextprotocol/clientCapabilities": {}})
        self.send({"jsonrpc": "2.0", "id": id_, "method": method,
                   "params": params})
        return self.until(lambda m: m.get("id") == id_ and
                          "method" not in m, timeout)

    def close(self):
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(30 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.errf.close()
        return rc


def test_mcp_stdio(cfg, pdir):
    s = Stdio([env("MCPD_BIN"), "--stdio", "--state-dir",
               os.path.join(tempdir(), "state"), "--plugin-dir", pdir,
               "--config", write_config(cfg)])

    def tool_names():
        r = s.call(int(time.monotonic() * 1000), "tools/list", {}, 10)
        return [t["name"] for t in ((r or {}).get("result") or {})
                .get("tools", [])]
    ok(wait_until(lambda: {"ext.add", "inner.echo"} <= set(tool_names()),
                  20, 0.3),
       "mcpd --stdio lists the bridged tools (ext.add, inner.echo)")
    r = s.call(1, "tools/call", {"name": "ext.add",
                                 "arguments": {"a": 5, "b": 6}})
    res = (r or {}).get("result") or {}
    is_((res.get("isError"), res.get("structuredContent")),
        (False, {"sum": 11}), "tools/call ext.add over mcpd --stdio")
    r = s.call(2, "tools/call", {"name": "ext.slow",
                                 "arguments": {"steps": 3, "ms": 150},
                                 "_meta": {"progressToken": "p2"}})
    notes = [m["params"] for m in s.msgs
             if m.get("method") == "notifications/progress" and
             m.get("params", {}).get("progressToken") == "p2"]
    ok(r and not r["result"].get("isError") and notes and
       notes[-1].get("progress") == 3 and notes[-1].get("total") == 3,
       "progress crosses both hops (server -> bridge -> MCP client)")
    is_(s.close(), 0, "mcpd --stdio exits 0 at end of input "
                      "(its bridged children stopped)")


def test_mcp_http(d):
    hdrs = {"Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call",
            "Mcp-Name": "inner.echo"}
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "inner.echo", "arguments": {"via": "http"},
                       "_meta": {
                           "io.modelcontextprotocol/protocolVersion": MODERN,
                           "io.modelcontextprotocol/clientCapabilities": {}}}}
    st, rh, resp = d.post("/mcp", body, headers=hdrs)
    if st == 404:
        ok(True, "# SKIP POST /mcp is not served by this build")
        return
    if isinstance(resp, str) and "data:" in resp:
        datas = [json.loads(line[5:]) for line in resp.splitlines()
                 if line.startswith("data:")]
        resp = next((m for m in datas if m.get("id") == 7), {})
    res = (resp or {}).get("result") or {} if isinstance(resp, dict) else {}
    is_((st, res.get("structuredContent")), (200, {"via": "http"}),
        "tools/call inner.echo over POST /mcp (2026-07-28)")


def main():
    node, server = node_paths()
    os.environ[TOKEN_VAR] = "s3cret"
    http_port = free_port()
    web_err = open(os.path.join(tempdir(), "web.log"), "wb")
    web = subprocess.Popen([node, server, "--sdk1", "--http",
                            str(http_port)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=web_err)
    try:
        def web_up():
            with open(web_err.name, "rb") as f:
                return b"listening on" in f.read()
        ok(wait_until(web_up, 20), "the SDK's HTTP server is listening")
        inner_state = os.path.join(tempdir(), "inner-state")
        far = Daemon(plugin_dirs=[inner_plugin_dir()])
        cfg = bridge_config(node, server, inner_state, inner_plugin_dir(),
                            http_port, far.port)
        pdir = plugin_dir()
        d = Daemon(plugin_dirs=[pdir], config=cfg)
        want = ["ext.add", "ext1.add", "web.add", "inner.echo",
                "inner.sleep", "far.echo"]
        if not ok(wait_caps(d, want, True, 30),
                  "every server's tools became capabilities"):
            diag("have: %s" % sorted(caps(d)))
            d.dump_log()
        test_rest(d)
        test_progress_and_cancel(d)
        test_http_cancel(d, far)
        test_list_changed(d)
        test_mcp_http(d)
        test_server_death(d)
        pids_before = [p for p in os.listdir("/proc") if p.isdigit()]
        is_(d.stop(), 0, "the daemon stops with exit code 0")
        far.stop()
        left = []
        for p in pids_before:
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if server.encode() in cmd and b"--http" not in cmd or \
                    inner_state.encode() in cmd:
                left.append(p)
        is_(left, [], "no bridged child outlives the daemon")
        cfg2 = {"plugins": {"mcp-bridge": {
            "servers": {"ext": cfg["plugins"]["mcp-bridge"]["servers"]["ext"],
                        "inner": cfg["plugins"]["mcp-bridge"]["servers"]
                        ["inner"]}}}}
        cfg2["plugins"]["mcp-bridge"]["servers"]["inner"]["args"][2] = \
            os.path.join(tempdir(), "inner2")
        test_mcp_stdio(cfg2, pdir)
    finally:
        web.kill()
        web.wait()
        web_err.close()
    done_testing()


if __name__ == "__main__":
    main()
