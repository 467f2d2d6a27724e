#!/usr/bin/env python3
"""Real MCP clients against mcpd: the official TypeScript SDK 1.x
(@modelcontextprotocol/sdk, the 2025-11-25 handshake era) and 2.x
(@modelcontextprotocol/client, pinned to 2026-07-28), each over stdio
(`mcpd --stdio`) and over Streamable HTTP (/mcp). Each session lists the
tools, calls echo, calls sleep with progress, cancels a long sleep (the
task must end cancelled, seen over REST) and sees the tool list change
after a reload adds a plugin (tools/list_changed; subscriptions/listen for
2.x). The clients are tests/mcp-clients/clients/scenario.mjs run with the
Node 22 that tests/mcp-clients/node_modules provides (./dev test installs
it with npm ci)."""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcpdtest as t  # noqa: E402

SRC = t.env("MCPD_SOURCE_DIR")
CLIENTS = os.path.join(SRC, "tests", "mcp-clients")
NODE = os.path.join(CLIENTS, "node_modules", ".bin", "node")
SCENARIO = os.path.join(CLIENTS, "clients", "scenario.mjs")
PLUGIN_DIR = t.env("MCPD_PLUGIN_DIR")
TEST_PLUGIN_DIR = t.env("MCPD_TEST_PLUGIN_DIR")

# 10 checks per client session, 1 for the install, 1 for the HTTP
# daemon's exit code (a sanitizer's or valgrind's finding shows there).
t.plan(4 * 10 + 2)

# Without the npm packages this test cannot run: a failure that says how
# to get them, never a silent skip.
missing = [NODE] if not os.path.exists(NODE) else []
for pkg in ("sdk", "client"):
    d = os.path.join(CLIENTS, "node_modules", "@modelcontextprotocol", pkg)
    if not os.path.isdir(d):
        missing.append(d)
if not t.ok(not missing, "the npm MCP clients are installed"):
    t.diag("missing: %s" % ", ".join(missing))
    t.diag("run `npm ci` in %s (./dev test does)" % CLIENTS)
    t.done_testing()

STEP_TIMEOUT = 60.0 * t.SLOW


def plugin_dir():
    """A private plugin dir with the bundled echo and sleep."""
    d = os.path.join(t.tempdir(), "plugins")
    os.makedirs(d)
    for name in ("echo.so", "sleep.so"):
        shutil.copyfile(os.path.join(PLUGIN_DIR, name), os.path.join(d, name))
    return d


class Scenario:
    """scenario.mjs as a child; its JSON lines arrive on a queue."""

    def __init__(self, args):
        self.err = os.path.join(t.tempdir(), "node-stderr.log")
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen([NODE, SCENARIO] + args,
                                         stdout=subprocess.PIPE,
                                         stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=CLIENTS)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.q.put({"event": "garbage", "line": line.decode(
                    "utf-8", "replace")})
        self.q.put(None)

    def next(self, want):
        """The next line with event `want` (an error line ends it: {})."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                m = self.q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                t.diag("no %r from the client within %.0f s" % (want, STEP_TIMEOUT))
                return {}
            if m is None:
                t.diag("the client exited before %r" % want)
                return {}
            if m.get("event") == want:
                return m
            if m.get("event") in ("error", "garbage"):
                t.diag("client: %r" % m)
                return {}
            if m.get("event") == "port":
                self.port = m["port"]

    def finish(self):
        try:
            rc = self.proc.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if rc != 0:
            with open(self.err, "rb") as f:
                t.diag(f.read().decode("utf-8", "replace")[-3000:])
        return rc


def tasks(port, **q):
    path = "/v1/tasks?" + "&".join("%s=%s" % kv for kv in q.items())
    st, _, body = t.http_request(port, "GET", path)
    return body.get("tasks", []) if st == 200 and isinstance(body, dict) else []


def cancelled_task(port, total):
    """The sleep task whose progress total is `total`, once final."""
    def probe():
        for task in tasks(port, capability="sleep", limit=100):
            p = task.get("progress") or {}
            if p.get("total") == total and task.get("status") in t.FINAL:
                return task
        return None
    return t.wait_until(probe, 20) or {}


def run(sdk, transport, target, port_of, plugins, cancel_ms, version):
    name = "%s over %s" % (sdk, transport)
    args = ["--sdk", sdk, "--transport", transport, "--cancel_ms",
            str(cancel_ms), "--wait_ms", str(int(20000 * t.SLOW))]
    args += ["--url", target] if transport == "http" else ["--cmd", target]
    sc = Scenario(args)
    sc.port = None

    m = sc.next("connected")
    if version:
        t.is_(m.get("version"), version, "%s: connected at %s" % (name, version))
    else:
        t.is_(m.get("server"), "mcpd", "%s: connected to mcpd" % name)
    m = sc.next("tools")
    t.is_(m.get("names"), ["echo", "sleep"], "%s: tools/list gives echo and sleep" % name)
    m = sc.next("echo")
    t.ok(m.get("isError") is False and
         m.get("structured") == {"greeting": "hello", "n": 3},
         "%s: echo returns its arguments as structuredContent" % name) or t.diag(m)
    m = sc.next("sleep")
    t.is_(m.get("structured"), {"slept_ms": 600}, "%s: sleep 600 ms succeeds" % name)
    p = m.get("progress") or []
    t.ok(len(p) >= 2 and all(a < b for a, b in zip(p, p[1:])) and p[-1] == 600,
         "%s: progress is strictly increasing up to 600 (%r)" % (name, p))
    m = sc.next("cancel")
    t.ok(m.get("settled") == "rejected" and m.get("progress_seen", 0) >= 1,
         "%s: the aborted call is rejected after its first progress" % name) or t.diag(m)
    port = port_of(sc)
    task = cancelled_task(port, cancel_ms) if port else {}
    t.is_(task.get("status"), "cancelled",
          "%s: its task ended cancelled (REST)" % name)

    m = sc.next("await_reload")
    if m:
        shutil.copyfile(os.path.join(TEST_PLUGIN_DIR, "flaky.so"),
                        os.path.join(plugins, "flaky.so"))
        st, _, body = t.http_request(port, "POST", "/v1/reload?wait=1", timeout=60)
        if st != 200:
            t.diag("reload: %s %r" % (st, body))
    m = sc.next("list_changed")
    t.ok(m.get("seen") is True, "%s: the client hears the tool list changed" % name)
    t.is_(m.get("names"), ["echo", "flaky", "sleep"],
          "%s: the new list has the reloaded plugin's tool" % name)
    sc.next("done")
    t.is_(sc.finish(), 0, "%s: the client exits 0" % name)


# ---- HTTP: one daemon, both SDKs in turn
http_plugins = plugin_dir()
d = t.Daemon(plugin_dirs=[http_plugins])
url = "http://%s:%d/mcp" % (t.HOST, d.port)
for sdk, cancel_ms, version in (("v1", 29001, "2025-11-25"),
                                ("v2", 29002, "2026-07-28")):
    run(sdk, "http", url, lambda sc: d.port, http_plugins, cancel_ms, version)
    os.unlink(os.path.join(http_plugins, "flaky.so"))
    d.reload(wait=True)
t.is_(d.stop(check=False), 0, "the HTTP daemon exits 0 after SIGTERM")

# ---- stdio: the client starts `mcpd --stdio`, which also listens on a
# free port (its log line names it) for the REST checks.
for sdk, cancel_ms, version in (("v1", 29003, None), ("v2", 29004, "2026-07-28")):
    plugins = plugin_dir()
    state = os.path.join(t.tempdir(), "state")
    argv = t.WRAPPER + [t.env("MCPD_BIN"), "--stdio", "--listen", "%s:0" % t.HOST,
                        "--state-dir", state, "--plugin-dir", plugins]
    run(sdk, "stdio", json.dumps(argv), lambda sc: sc.port, plugins, cancel_ms,
        version)

t.done_testing()
