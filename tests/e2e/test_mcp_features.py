#!/usr/bin/env python3
"""MCP server features beyond tools, over `mcpd --stdio` (with --listen for
REST and reloads): plugin resources, templates and prompts declared through
ABI 1.2 (tests/plugins/conformance_fixtures.c), resources/list with
finished tasks as mcpd://tasks/{id} and cursor pagination, resources/read
and its not-found errors in both eras, legacy resources/subscribe and
unsubscribe with notifications/resources/updated (plugin-announced and
task-finished), prompts/get argument checks, completion/complete, MCP
content blocks in tool results (MCPD_RESULT_MCP_CONTENT), results over
mcp.inline_max_bytes as a resource_link, and resources/prompts
list_changed plus withdrawal when a reload removes the plugin."""

import json
import os
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (HOST, SLOW, WRAPPER, diag, done_testing, env,
                      free_port, http_request, is_, like, ok, tempdir,
                      wait_until, write_config)

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
INLINE_MAX = 4096
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMB"
       "AQDJ/pLvAAAAAElFTkSuQmCC")
FIXTURE_URIS = ["test://static-binary", "test://static-text",
                "test://watched-resource"]


class Stdio:
    """mcpd --stdio: newline-delimited JSON-RPC on pipes."""

    def __init__(self, argv):
        self.dir = tempdir()
        self.err_path = os.path.join(self.dir, "stderr.log")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(WRAPPER + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""
        self.inbox = []
        self.bad = []
        self.next_id = 100

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return True
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            return False
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                self.inbox.append(json.loads(line))
            except ValueError:
                self.bad.append(line)
        return True

    def wait_for(self, pred, timeout=15.0):
        deadline = time.monotonic() + timeout * SLOW
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    return self.inbox.pop(i)
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)):
                return None

    def call(self, method, params=None, meta=None, timeout=15.0):
        """A request; its response (None on timeout)."""
        self.next_id += 1
        rid = self.next_id
        msg = {"jsonrpc": "2.0", "id": rid, "method": method,
               "params": dict(params or {})}
        if meta:
            msg["params"]["_meta"] = meta
        self.send(msg)
        return self.wait_for(lambda m: m.get("id") == rid and
                             "method" not in m, timeout)

    def notes(self, method):
        """Take every notification `method` received so far."""
        got = [m for m in self.inbox if m.get("method") == method]
        self.inbox = [m for m in self.inbox if m.get("method") != method]
        return got

    def close(self):
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=60 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = None
        self.err.close()
        return code

    def dump(self):
        with open(self.err_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines()[-30:]:
                diag(line)


def res(r):
    return (r or {}).get("result") or {}


def err(r):
    return (r or {}).get("error") or {}


def modern_meta():
    return {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "e2e",
                                                   "version": "1"}}


def compact(v):
    return json.dumps(v, separators=(",", ":"))


def main():
    mcpd = env("MCPD_BIN")
    tdir = env("MCPD_TEST_PLUGIN_DIR")
    pdir = env("MCPD_PLUGIN_DIR")
    plugins = tempdir()
    fixture = os.path.join(plugins, "conformance_fixtures.so")
    shutil.copy(os.path.join(tdir, "conformance_fixtures.so"), fixture)
    shutil.copy(os.path.join(pdir, "sleep.so"), plugins)
    work = tempdir()

    # A bad inline limit is refused with the key's name.
    bad = write_config({"mcp": {"inline_max_bytes": 5}}, work)
    p = subprocess.run([mcpd, "--stdio", "--config", bad, "--state-dir",
                        os.path.join(work, "bad")], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30 * SLOW)
    ok(p.returncode != 0, "mcp.inline_max_bytes 5: mcpd refuses to start")
    like(p.stderr.decode(), "config: mcp.inline_max_bytes: must be an "
         "integer from 256 to 67108864", "the reason names the key")

    port = free_port()
    cfg = write_config({"mcp": {"inline_max_bytes": INLINE_MAX}}, work)
    s = Stdio([mcpd, "--stdio", "--listen", "%s:%d" % (HOST, port),
               "--config", cfg, "--state-dir", os.path.join(work, "state"),
               "--plugin-dir", plugins])
    r = s.call("initialize", {"protocolVersion": LEGACY, "capabilities": {},
                              "clientInfo": {"name": "e2e", "version": "1"}},
               timeout=60)
    caps = res(r).get("capabilities", {})
    if not is_(caps.get("resources"), {"subscribe": True,
                                       "listChanged": True},
               "initialize: resources capability with subscribe"):
        diag(repr(r))
        s.dump()
    is_(caps.get("prompts"), {"listChanged": True},
        "initialize: prompts capability")
    is_(caps.get("completions"), {}, "initialize: completions capability")
    s.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    # ---- plugin resources and templates
    r = s.call("resources/list")
    is_([x.get("uri") for x in res(r).get("resources", [])], FIXTURE_URIS,
        "resources/list: the plugin's resources by uri, no task yet")
    is_(res(r).get("resources", [{}])[1], {
        "uri": "test://static-text", "name": "static-text",
        "description": "A static text resource", "mimeType": "text/plain"},
        "resources/list: a resource's name, description and mimeType")
    ok("nextCursor" not in res(r), "resources/list: one page")
    r = s.call("resources/templates/list")
    is_([x.get("uriTemplate") for x in res(r).get("resourceTemplates", [])],
        ["mcpd://tasks/{id}", "test://template/{id}/data"],
        "resources/templates/list: the task template, then the plugin's")
    r = s.call("resources/read", {"uri": "test://static-text"})
    is_(res(r).get("contents"), [{
        "uri": "test://static-text", "mimeType": "text/plain",
        "text": "This is the content of the static text resource."}],
        "resources/read: a text resource")
    r = s.call("resources/read", {"uri": "test://static-binary"})
    is_(res(r).get("contents"), [{"uri": "test://static-binary",
                                  "mimeType": "image/png", "blob": PNG}],
        "resources/read: a binary resource as blob")
    r = s.call("resources/read", {"uri": "test://template/a%20b/data"})
    c = (res(r).get("contents") or [{}])[0]
    is_((c.get("uri"), c.get("mimeType"), json.loads(c.get("text", "{}"))),
        ("test://template/a%20b/data", "application/json",
         {"id": "a b", "templateTest": True, "data": "Data for ID: a b"}),
        "resources/read: a template's variable, percent-decoded")
    for uri, why in (("test://template/missing/data", "the plugin says "
                      "not found"), ("test://nothing", "no such resource"),
                     ("test://template/1/2/data", "a variable never "
                      "spans a slash"),
                     ("mcpd://tasks/zz", "not a task id")):
        r = s.call("resources/read", {"uri": uri})
        is_((err(r).get("code"), err(r).get("data")),
            (-32002, {"uri": uri}),
            "resources/read %s: -32002 with the uri (%s)" % (uri, why))
    r = s.call("resources/read", {})
    is_(err(r).get("code"), -32602, "resources/read without uri: -32602")
    r = s.call("resources/read", {"uri": "test://nothing"},
               meta=modern_meta())
    is_((err(r).get("code"), err(r).get("data")),
        (-32602, {"uri": "test://nothing"}),
        "2026-07-28: resource not found is -32602 with the uri")

    # ---- prompts and completion
    r = s.call("prompts/list")
    is_([x.get("name") for x in res(r).get("prompts", [])],
        ["test_prompt_with_arguments", "test_prompt_with_embedded_resource",
         "test_prompt_with_image", "test_simple_prompt"],
        "prompts/list: by name")
    r = s.call("prompts/get", {"name": "test_prompt_with_arguments",
                               "arguments": {"arg1": "hello",
                                             "arg2": "world"}})
    is_(res(r).get("messages"), [{"role": "user", "content": {
        "type": "text",
        "text": "Prompt with arguments: arg1='hello', arg2='world'"}}],
        "prompts/get: arguments substituted")
    is_(res(r).get("description"), "A prompt with two arguments",
        "prompts/get: the declared description")
    r = s.call("prompts/get", {"name": "test_prompt_with_arguments",
                               "arguments": {"arg1": "x"}},
               meta=modern_meta())
    is_((err(r).get("code"), err(r).get("message")),
        (-32602, 'prompts/get test_prompt_with_arguments: missing '
         'required argument "arg2"'),
        "prompts/get: a missing required argument is named")
    r = s.call("prompts/get", {"name": "test_simple_prompt",
                               "arguments": {"zzz": "1"}})
    is_((err(r).get("code"), err(r).get("data")),
        (-32602, {"argument": "zzz"}), "prompts/get: an unknown argument")
    r = s.call("prompts/get", {"name": "no_such_prompt"})
    is_((err(r).get("code"), err(r).get("message")),
        (-32602, "Unknown prompt: no_such_prompt"),
        "prompts/get: an unknown prompt")
    r = s.call("completion/complete", {
        "ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
        "argument": {"name": "arg1", "value": "pa"}})
    is_(res(r).get("completion"), {"values": ["paris", "park", "party"],
                                   "total": 3, "hasMore": False},
        "completion/complete: a prompt argument")
    r = s.call("completion/complete", {
        "ref": {"type": "ref/resource", "uri": "test://template/{id}/data"},
        "argument": {"name": "id", "value": "12"}})
    is_(res(r).get("completion", {}).get("values"), ["123", "124"],
        "completion/complete: a template variable")
    r = s.call("completion/complete", {
        "ref": {"type": "ref/prompt", "name": "test_simple_prompt"},
        "argument": {"name": "arg1", "value": ""}})
    is_(err(r).get("code"), -32602,
        "completion/complete: an argument the prompt lacks")

    # ---- content blocks in tool results
    r = s.call("tools/call", {"name": "test_simple_text", "arguments": {}})
    is_(res(r).get("content"), [{
        "type": "text", "text": "This is a simple text response for "
        "testing."}], "tools/call: the tool's own text block")
    ok("structuredContent" not in res(r) and res(r).get("isError") is False,
       "tools/call: no structuredContent when only blocks were returned")
    first_task = res(r).get("_meta", {}).get("dev.mcpd/task", {}).get("id")
    r = s.call("tools/call", {"name": "test_multiple_content_types",
                              "arguments": {}})
    is_([b.get("type") for b in res(r).get("content", [])],
        ["text", "image", "resource"], "tools/call: mixed blocks in order")
    r = s.call("tools/call", {"name": "fixture_bad_content",
                              "arguments": {}})
    is_((res(r).get("isError"), (res(r).get("content") or [{}])[0]
         .get("text")),
        (True, "the tool's result is malformed: _mcp_content[1]: an image "
         "or audio block needs \"data\" (base64) and \"mimeType\" "
         "(strings)"), "tools/call: a malformed block is an error result")

    # ---- large results
    small = {"text": "x" * 3000, "n": 3000}
    r = s.call("tools/call", {"name": "fixture_big",
                              "arguments": {"n": 3000}})
    is_((res(r).get("content") or [{}])[0].get("text"), compact(small),
        "under mcp.inline_max_bytes: the result inline")
    is_(res(r).get("structuredContent"), small,
        "under the limit: structuredContent too")
    big = {"text": "x" * 5000, "n": 5000}
    r = s.call("tools/call", {"name": "fixture_big",
                              "arguments": {"n": 5000}})
    tid = res(r).get("_meta", {}).get("dev.mcpd/task", {}).get("id", "?")
    size = len(compact([{"type": "text", "text": compact(big)}]))
    link = (res(r).get("content") or [{}])[0]
    is_((link.get("type"), link.get("uri"), link.get("name"),
         link.get("mimeType"), link.get("size")),
        ("resource_link", "mcpd://tasks/" + tid, "task-" + tid,
         "application/json", size),
        "over the limit: a resource_link to the task, with the size")
    ok("structuredContent" not in res(r) and len(res(r)["content"]) == 1,
       "over the limit: no structuredContent (no output schema declared)")
    r = s.call("resources/read", {"uri": "mcpd://tasks/" + tid})
    c = (res(r).get("contents") or [{}])[0]
    task = json.loads(c.get("text", "{}"))
    is_((c.get("mimeType"), task.get("status"), task.get("result")),
        ("application/json", "succeeded", big),
        "the linked resource holds the task and its whole result")

    # ---- subscriptions: a plugin's resource
    r = s.call("resources/subscribe", {"uri": "test://watched-resource"})
    is_(r and r.get("result"), {}, "resources/subscribe: {}")
    r = s.call("tools/call", {"name": "fixture_touch",
                              "arguments": {"uri": "test://watched-resource"}})
    got = s.notes("notifications/resources/updated")
    is_([n.get("params") for n in got], [{"uri": "test://watched-resource"}],
        "a plugin's resource_updated reaches the subscriber")
    s.call("resources/unsubscribe", {"uri": "test://watched-resource"})
    s.call("tools/call", {"name": "fixture_touch",
                          "arguments": {"uri": "test://watched-resource"}})
    s.call("ping")
    is_(s.notes("notifications/resources/updated"), [],
        "after unsubscribe: no notification")
    r = s.call("resources/subscribe", {"uri": "test://nothing"})
    is_(err(r).get("code"), -32002, "subscribe to an unknown resource: "
        "-32002")
    r = s.call("resources/subscribe", {"uri": "test://static-text"},
               meta=modern_meta())
    is_(err(r).get("code"), -32601, "2026-07-28 has no resources/subscribe")

    # ---- subscriptions: a running task, finished
    st, _, body = http_request(port, "POST", "/v1/tasks", {
        "capability": "sleep", "input": {"ms": 1500}})
    sid = body.get("id") if st == 201 and isinstance(body, dict) else "?"
    uri = "mcpd://tasks/" + sid
    r = s.call("resources/subscribe", {"uri": uri})
    is_(r and r.get("result"), {}, "subscribe to a running task")
    r = s.call("resources/read", {"uri": uri})
    running = json.loads((res(r).get("contents") or [{}])[0]
                         .get("text", "{}"))
    ok(running.get("status") in ("queued", "running"),
       "a running task reads as its current state (%s)"
       % running.get("status"))
    n = s.wait_for(lambda m: m.get("method") ==
                   "notifications/resources/updated", timeout=20)
    is_(n and n.get("params"), {"uri": uri},
        "the task's finish is announced to the subscriber")
    r = s.call("resources/read", {"uri": uri})
    done = json.loads((res(r).get("contents") or [{}])[0].get("text", "{}"))
    is_((done.get("status"), done.get("result")),
        ("succeeded", {"slept_ms": 1500}), "then it reads as finished")
    r = s.call("completion/complete", {
        "ref": {"type": "ref/resource", "uri": "mcpd://tasks/{id}"},
        "argument": {"name": "id", "value": sid[:26]}})
    is_(res(r).get("completion", {}).get("values"), [sid],
        "completion/complete: task ids by prefix")

    # ---- tasks in resources/list, two pages
    for i in range(97):
        s.send({"jsonrpc": "2.0", "id": "bulk-%d" % i, "method":
                "tools/call", "params": {"name": "test_simple_text",
                                         "arguments": {}}})
    got = 0
    while got < 97 and s.wait_for(lambda m: str(m.get("id")).startswith(
            "bulk-") and "method" not in m, timeout=30):
        got += 1
    is_(got, 97, "97 more tasks finished")
    # Finished tasks so far: 5 tool calls above, 2 touches, 1 sleep, 97.
    st, _, body = http_request(port, "GET", "/v1/tasks?limit=1000")
    ids = [t["id"] for t in body.get("tasks", [])] if st == 200 else []
    is_(len(ids), 105, "REST lists the 105 tasks")
    r = s.call("resources/list")
    page1 = res(r).get("resources", [])
    cur = res(r).get("nextCursor")
    want = FIXTURE_URIS + ["mcpd://tasks/" + i for i in ids]
    is_([x.get("uri") for x in page1], want[:100],
        "page 1: plugin resources, then tasks newest first")
    ok(isinstance(cur, str), "page 1 has a nextCursor")
    r = s.call("resources/list", {"cursor": cur})
    page2 = res(r).get("resources", [])
    is_([x.get("uri") for x in page2], want[100:],
        "page 2: the rest, oldest last")
    ok("nextCursor" not in res(r), "page 2 is the last")
    is_(want[-1], "mcpd://tasks/%s" % first_task,
        "the oldest finished task is the first tools/call")
    t = next((x for x in page1 + page2 if x.get("uri") == uri), {})
    is_((t.get("name"), t.get("title"), t.get("mimeType")),
        ("task-" + sid, "sleep succeeded", "application/json"),
        "a task's resource entry")
    r = s.call("resources/list", {"cursor": "t:zz"})
    is_(err(r).get("code"), -32602, "resources/list: a bad cursor")

    # ---- a reload that removes the plugin
    os.unlink(fixture)
    st, _, body = http_request(port, "POST", "/v1/reload?wait=1", timeout=60)
    is_(st, 200, "reload without the fixtures plugin")
    n1 = s.wait_for(lambda m: m.get("method") ==
                    "notifications/resources/list_changed", timeout=10)
    n2 = s.wait_for(lambda m: m.get("method") ==
                    "notifications/prompts/list_changed", timeout=10)
    ok(n1 is not None and n2 is not None,
       "resources and prompts list_changed are sent")
    r = s.call("resources/list")
    ok(not any(x.get("uri", "").startswith("test://")
               for x in res(r).get("resources", [])),
       "the plugin's resources are gone")
    r = s.call("prompts/list")
    is_(res(r).get("prompts"), [], "its prompts are gone")
    r = s.call("resources/read", {"uri": "test://static-text"})
    is_(err(r).get("code"), -32002, "reading its resource: not found")

    code = s.close()
    if not is_(code, 0, "end of input: mcpd exits 0"):
        s.dump()
    is_(s.bad, [], "nothing but JSON-RPC on stdout")


main()
done_testing()
