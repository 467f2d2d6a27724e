#!/usr/bin/env python3
"""MCP over stdio, spoken from Python over pipes: mcpd-plugin-run serving
one plugin (legacy 2025-11-25 session: initialize, tools/list, tools/call
with progress, cancellation, invalid input), mcpd --stdio (modern
2026-07-28 requests with per-request _meta, no initialize; tasks visible
over REST with --listen; no HTTP without it), and mcpd-plugin-run --check
on good and refused plugins. stdout carries nothing but JSON-RPC lines;
end of input ends the process with 0."""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (HOST, SLOW, WRAPPER, diag, done_testing, env,
                      free_port, http_request, is_, like, ok, tempdir,
                      wait_until, write_config)

MODERN = "2026-07-28"


def modern_meta(**extra):
    m = {"io.modelcontextprotocol/protocolVersion": MODERN,
         "io.modelcontextprotocol/clientCapabilities": {},
         "io.modelcontextprotocol/clientInfo": {"name": "e2e",
                                                "version": "1"}}
    m.update(extra)
    return m


class StdioServer:
    """A child speaking newline-delimited JSON-RPC on its stdin/stdout."""

    def __init__(self, argv, name):
        self.name = name
        self.dir = tempdir()
        self.err_path = os.path.join(self.dir, "stderr.log")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(WRAPPER + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""
        self.bad_lines = []   # stdout lines that are not JSON-RPC
        self.inbox = []       # messages read, not yet taken
        self.notes = []       # every notification, in order

    def send(self, msg):
        data = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def _read(self, timeout):
        """Read what stdout has within `timeout` s; False at EOF."""
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return True
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
                good = isinstance(msg, (dict, list))
            except ValueError:
                good = False
            if not good or (isinstance(msg, dict) and
                            msg.get("jsonrpc") != "2.0"):
                self.bad_lines.append(line)
                continue
            if isinstance(msg, dict) and "method" in msg:
                self.notes.append(msg)
            self.inbox.append(msg)
        return True

    def wait_for(self, pred, timeout=10.0):
        """The first unread message matching pred (taken), or None."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    return self.inbox.pop(i)
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)):
                return None

    def response(self, rid, timeout=10.0):
        return self.wait_for(lambda m: isinstance(m, dict) and
                             m.get("id") == rid and "method" not in m,
                             timeout)

    def request(self, rid, method, params=None, timeout=10.0):
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.response(rid, timeout)

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def quiet_for(self, pred, seconds):
        """True when nothing matching pred arrives within `seconds`."""
        return self.wait_for(pred, seconds / SLOW) is None

    def close(self, timeout=30.0):
        """End of input: the exit code (None if it did not exit)."""
        self.proc.stdin.close()
        deadline = time.monotonic() + timeout * SLOW
        while self._read(0.2) and time.monotonic() < deadline:
            pass
        try:
            code = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.err.close()
        return code

    def stderr_text(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def dump_stderr(self, lines=30):
        for line in self.stderr_text().splitlines()[-lines:]:
            diag(line)


def result(resp):
    return (resp or {}).get("result") or {}


def error_code(resp):
    return ((resp or {}).get("error") or {}).get("code")


def progress_of(token):
    return lambda m: (m.get("method") == "notifications/progress" and
                      m.get("params", {}).get("progressToken") == token)


def finish(srv):
    code = srv.close()
    if not is_(code, 0, "%s: end of input -> exit 0" % srv.name):
        srv.dump_stderr()
    is_(srv.bad_lines, [], "%s: nothing but JSON-RPC lines on stdout"
        % srv.name)


# ------------------------------------------------------------ plugin-run

def plugin_run_legacy(run_bin, sleep_so):
    srv = StdioServer([run_bin, sleep_so], "mcpd-plugin-run")
    r = srv.request(1, "initialize", {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "e2e", "version": "1"}}, timeout=30)
    res = result(r)
    if not is_(res.get("protocolVersion"), "2025-11-25",
               "initialize: 2025-11-25 negotiated"):
        diag(repr(r))
        srv.dump_stderr()
    ok("tools" in res.get("capabilities", {}) and
       res.get("serverInfo", {}).get("name") == "mcpd",
       "initialize: tools capability and serverInfo")
    ok("resultType" not in res, "initialize: no resultType in 2025-11-25")
    srv.notify("notifications/initialized")

    r = srv.request(2, "tools/list")
    tools = result(r).get("tools", [])
    is_([t.get("name") for t in tools], ["sleep"],
        "tools/list: exactly the plugin's capability")
    t = tools[0] if tools else {}
    ok(t.get("inputSchema", {}).get("type") == "object" and
       t.get("outputSchema", {}).get("type") == "object" and
       t.get("title") == "Sleep" and t.get("description"),
       "the tool carries title, description and both schemas")

    # Progress: monotonic, and over once the response is out.
    r = srv.request(3, "tools/call", {
        "name": "sleep", "arguments": {"ms": 400},
        "_meta": {"progressToken": "tok"}}, timeout=30)
    res = result(r)
    is_(res.get("structuredContent"), {"slept_ms": 400},
        "tools/call sleep: structuredContent")
    ok(res.get("isError") is False and
       json.loads(res["content"][0]["text"]) == {"slept_ms": 400},
       "tools/call sleep: text content is the same JSON, isError false")
    seen = [n["params"]["progress"] for n in srv.notes
            if n.get("method") == "notifications/progress"]
    ok(len(seen) >= 2, "progress notifications arrived (%d)" % len(seen))
    ok(all(b > a for a, b in zip(seen, seen[1:])),
       "progress strictly increases: %r" % seen)
    ok(all(n["params"].get("total") == 400 for n in srv.notes
           if n.get("method") == "notifications/progress"),
       "progress carries the total")
    srv.inbox = [m for m in srv.inbox if not progress_of("tok")(m)]
    ok(srv.quiet_for(progress_of("tok"), 0.5),
       "no progress for the token after the response")

    # Cancellation: the task is cancelled, the request gets no answer.
    srv.send({"jsonrpc": "2.0", "id": 10, "method": "tools/call",
              "params": {"name": "sleep", "arguments": {"ms": 60000},
                         "_meta": {"progressToken": 10}}})
    ok(srv.wait_for(progress_of(10), 15) is not None,
       "the long call is running (progress seen)")
    srv.notify("notifications/cancelled", {"requestId": 10,
                                            "reason": "e2e"})
    ok(srv.quiet_for(lambda m: m.get("id") == 10, 1.5),
       "a cancelled request gets no response")
    ok(wait_until(lambda: "cancel" in srv.stderr_text(), 5),
       "the daemon logged the cancellation")
    srv.inbox = [m for m in srv.inbox if not progress_of(10)(m)]
    ok(srv.quiet_for(progress_of(10), 0.5),
       "nor any more progress for it")
    r = srv.request(11, "ping")
    is_(result(r), {}, "still serving: ping answers {}")

    # Tool failures are results; protocol errors are errors.
    r = srv.request(12, "tools/call", {"name": "sleep",
                                       "arguments": {"ms": -1}})
    res = result(r)
    ok(res.get("isError") is True, "invalid input: isError true")
    like(res.get("content", [{}])[0].get("text", ""), "ms",
         "invalid input: the text names the field")
    r = srv.request(13, "tools/call", {"name": "sleep",
                                       "arguments": {"ms": 10, "fail": True}},
                    timeout=30)
    ok(result(r).get("isError") is True and
       "requested_failure" in result(r)["content"][0]["text"],
       "a failed task: isError true with the plugin's error")
    r = srv.request(14, "tools/call", {"name": "nope", "arguments": {}})
    is_(error_code(r), -32602, "unknown tool: -32602")
    r = srv.request(15, "sampling/createMessage")
    is_(error_code(r), -32601, "an unserved method: -32601")
    srv.send(b"{not json")
    r = srv.wait_for(lambda m: isinstance(m, dict) and "error" in m and
                     m.get("id") is None)
    is_(error_code(r), -32700, "a line that is not JSON: -32700, id null")
    srv.send(b'{"jsonrpc":"2.0","id":16,"method":"ping","x":"' +
             b"a" * (1100 * 1024) + b'"}')
    r = srv.wait_for(lambda m: isinstance(m, dict) and "error" in m and
                     m.get("id") is None)
    is_(error_code(r), -32600, "a line over max_body_bytes: -32600")
    r = srv.request(17, "ping")
    is_(result(r), {}, "and the next line is served")
    finish(srv)


def plugin_run_check(run_bin, pdir, tdir):
    def check(args):
        p = subprocess.run(WRAPPER + [run_bin] + args, capture_output=True,
                           timeout=60 * SLOW)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    code, out, err = check(["--check", os.path.join(pdir, "sleep.so")])
    is_(code, 0, "--check sleep.so: exit 0")
    for part in ("sleep 1.0.0", "abi", "capabilities 1", "blocking",
                 "max_concurrency", "input_schema", '"minimum":0',
                 "output_schema"):
        like(out, part, "--check prints %s" % part)
    if code:
        diag(err)
    for so, reason in (("bad_major.so", "ABI major 2"),
                       ("bad_schema.so", "JSON"),
                       ("no_symbol.so", "mcpd_plugin_v1")):
        code, out, err = check(["--check", os.path.join(tdir, so)])
        is_(code, 1, "--check %s: exit 1" % so)
        lines = [ln for ln in err.splitlines() if ln.strip() and
                 not ln.startswith("==")]
        ok(len(lines) == 1 and reason in lines[0],
           "--check %s: one line naming the reason (%s)" % (so, reason))
        if len(lines) != 1:
            diag(err)
    code, _, err = check(["--check"])
    is_(code, 2, "no plugin: usage error, exit 2")
    code, _, _ = check(["--check", "a.so", "b.so"])
    is_(code, 2, "two plugins: exit 2")
    code, _, _ = check(["--frobnicate", os.path.join(pdir, "sleep.so")])
    is_(code, 2, "an unknown option: exit 2")
    code, _, err = check(["--check", os.path.join(tdir, "missing.so")])
    is_(code, 1, "a missing file: exit 1")


# ------------------------------------------------------------ mcpd --stdio

def modern_stdio(mcpd_bin, pdir):
    port = free_port()
    state = os.path.join(tempdir(), "state")
    srv = StdioServer([mcpd_bin, "--stdio", "--plugin-dir", pdir,
                       "--state-dir", state, "--listen",
                       "%s:%d" % (HOST, port)], "mcpd --stdio")
    r = srv.request("d", "server/discover", {"_meta": modern_meta()},
                    timeout=30)
    res = result(r)
    ok(MODERN in res.get("supportedVersions", []) and
       "2025-11-25" in res.get("supportedVersions", []),
       "server/discover without initialize: both eras supported")
    if not res:
        diag(repr(r))
        srv.dump_stderr()
    ok(res.get("resultType") == "complete" and "tools" in
       res.get("capabilities", {}) and "ttlMs" in res,
       "DiscoverResult: resultType, capabilities, caching hints")
    ok(res.get("_meta", {}).get("io.modelcontextprotocol/serverInfo"),
       "serverInfo in the result's _meta")

    r = srv.request(1, "tools/list", {"_meta": modern_meta()})
    res = result(r)
    names = [t["name"] for t in res.get("tools", [])]
    is_(names, sorted(names), "tools/list: ordered by name")
    ok({"echo", "sleep"} <= set(names), "tools/list: echo and sleep")
    ok(res.get("resultType") == "complete" and res.get("cacheScope") ==
       "public" and isinstance(res.get("ttlMs"), int),
       "tools/list: resultType and cache hints")

    r = srv.request(2, "tools/call", {"name": "echo",
                                      "arguments": {"say": "hi", "n": [1]},
                                      "_meta": modern_meta()})
    res = result(r)
    is_(res.get("structuredContent"), {"say": "hi", "n": [1]},
        "tools/call echo (modern): structuredContent")
    is_(res.get("resultType"), "complete", "tools/call: resultType complete")
    tid = res.get("_meta", {}).get("dev.mcpd/task", {}).get("id")
    st, _, body = http_request(port, "GET", "/v1/tasks/%s" % tid)
    ok(st == 200 and body.get("status") == "succeeded" and
       body.get("capability") == "echo",
       "the call's task is visible over REST, succeeded")

    # Cancel a modern call: REST shows the task cancelled.
    srv.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
              "params": {"name": "sleep", "arguments": {"ms": 60000},
                         "_meta": modern_meta(progressToken="p3")}})
    ok(srv.wait_for(progress_of("p3"), 15) is not None,
       "modern call with a progress token: progress arrives")
    st, _, body = http_request(port, "GET", "/v1/tasks?capability=sleep")
    running = [t["id"] for t in (body or {}).get("tasks", [])
               if t.get("status") == "running"]
    srv.notify("notifications/cancelled", {"requestId": 3})
    ok(srv.quiet_for(lambda m: m.get("id") == 3, 1.0),
       "modern cancellation: no response")
    ok(running and wait_until(lambda: http_request(
        port, "GET", "/v1/tasks/%s" % running[0])[2].get("status") ==
        "cancelled", 5), "and its task is cancelled (REST)")

    # Log messages only when the request asks for them.
    r = srv.request(4, "tools/call", {
        "name": "echo", "arguments": {},
        "_meta": modern_meta(**{"io.modelcontextprotocol/logLevel":
                                "info"})})
    ok(any(n.get("method") == "notifications/message" and
           n["params"].get("data", {}).get("status") == "succeeded"
           for n in srv.notes), "logLevel info: the task's end is logged")
    before = len([n for n in srv.notes
                  if n.get("method") == "notifications/message"])
    srv.request(5, "tools/call", {"name": "echo", "arguments": {},
                                  "_meta": modern_meta()})
    after = len([n for n in srv.notes
                 if n.get("method") == "notifications/message"])
    is_(after, before, "no logLevel: no notifications/message")

    r = srv.request(6, "tools/list", {"_meta": dict(
        modern_meta(), **{"io.modelcontextprotocol/protocolVersion":
                          "2099-01-01"})})
    is_(error_code(r), -32022, "unsupported version: -32022")
    is_((r or {}).get("error", {}).get("data", {}).get("requested"),
        "2099-01-01", "the error names the requested version")
    r = srv.request(7, "tools/list")
    is_(error_code(r), -32602, "no _meta and no initialize: -32602")
    r = srv.request(8, "ping", {"_meta": modern_meta()})
    is_(error_code(r), -32601, "ping is not a 2026-07-28 method")
    like(srv.stderr_text(), "listening on http", "the HTTP line is on "
         "stderr, not stdout")
    finish(srv)


def stdio_without_listen(mcpd_bin, pdir):
    """A config's listen address is not served in --stdio mode; a reload
    that adds a plugin tells the legacy session its tools changed."""
    port = free_port()
    cfg = write_config({"listen": "%s:%d" % (HOST, port)})
    mydir = tempdir()
    shutil.copy(os.path.join(pdir, "echo.so"), mydir)
    srv = StdioServer([mcpd_bin, "--stdio", "--config", cfg,
                       "--plugin-dir", mydir, "--state-dir",
                       os.path.join(tempdir(), "state")], "mcpd --stdio")
    r = srv.request(1, "initialize", {"protocolVersion": "2025-06-18",
                                      "capabilities": {},
                                      "clientInfo": {"name": "e2e",
                                                     "version": "1"}},
                    timeout=30)
    is_(result(r).get("protocolVersion"), "2025-06-18",
        "initialize 2025-06-18: negotiated as asked")
    s = socket.socket()
    try:
        refused = s.connect_ex((HOST, port)) != 0
    finally:
        s.close()
    ok(refused, "--stdio without --listen: no HTTP listener")
    srv.notify("notifications/initialized")
    shutil.copy(os.path.join(pdir, "sleep.so"), mydir)
    srv.proc.send_signal(signal.SIGHUP)
    ok(srv.wait_for(lambda m: m.get("method") ==
                    "notifications/tools/list_changed", 15) is not None,
       "a reload that adds a plugin: notifications/tools/list_changed")
    r = srv.request(2, "tools/list")
    is_([t["name"] for t in result(r).get("tools", [])], ["echo", "sleep"],
        "and tools/list has the new tool")
    finish(srv)


def main():
    run_bin = env("MCPD_PLUGIN_RUN_BIN")
    mcpd_bin = env("MCPD_BIN")
    pdir = env("MCPD_PLUGIN_DIR")
    tdir = env("MCPD_TEST_PLUGIN_DIR")
    plugin_run_legacy(run_bin, os.path.join(pdir, "sleep.so"))
    plugin_run_check(run_bin, pdir, tdir)
    modern_stdio(mcpd_bin, pdir)
    stdio_without_listen(mcpd_bin, pdir)
    done_testing()


main()
