#!/usr/bin/env python3
"""Every bad input in README's error table gets its exact status and code;
misbehaving plugins fail their tasks, not the daemon; bad configuration and
flags stop mcpd at once with one line saying why."""

import http.client
import json
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (HOST, Daemon, diag, done_testing, env, is_, is_error,
                      like, ok, run, tempdir, write_config)

JSON = {"Content-Type": "application/json"}


def post_raw(d, body, headers=JSON, path="/v1/tasks"):
    return d.request("POST", path, body, headers)


def test_json(d):
    is_error(post_raw(d, "{"), 400, "invalid_json", "truncated JSON is 400")
    is_error(post_raw(d, "{\"capability\": echo}"), 400, "invalid_json",
             "JSON with a bare word is 400")
    is_error(post_raw(d, ""), 400, "invalid_json", "an empty body is 400")
    is_error(post_raw(d, '{"capability": "echo", "capability": "sleep"}'),
             400, "invalid_json", "a duplicate key is 400 invalid_json")
    for body in ("[1, 2]", "\"echo\"", "42", "null"):
        is_error(post_raw(d, body), 400, "invalid_json",
                 "a non-object body %s is 400 invalid_json" % body)
    st, _, _ = post_raw(d, json.dumps({"capability": "echo"}),
                        {"Content-Type": "application/json; charset=utf-8"})
    is_(st, 201, "a charset parameter on the JSON type is accepted")


def test_media_type(d):
    body = json.dumps({"capability": "echo"})
    is_error(post_raw(d, body, {"Content-Type": "text/plain"}), 415,
             "unsupported_media_type", "text/plain body is 415")
    is_error(post_raw(d, body, {}), 415, "unsupported_media_type",
             "a body without Content-Type is 415")
    is_error(post_raw(d, body, {"Content-Type": "application/x-www-form-"
                                                "urlencoded"}),
             415, "unsupported_media_type", "a form body is 415")


def chunks(data, size=100):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def post_chunked(d, data):
    conn = http.client.HTTPConnection(HOST, d.port, timeout=10)
    try:
        conn.request("POST", "/v1/tasks", body=chunks(data),
                     headers=dict(JSON), encode_chunked=True)
        r = conn.getresponse()
        raw = r.read().decode("utf-8", "replace")
        try:
            return r.status, {}, json.loads(raw)
        except ValueError:
            return r.status, {}, raw
    finally:
        conn.close()


def test_limits(d):
    big = {"capability": "echo", "input": {"pad": "x" * 4096}}
    is_error(d.post("/v1/tasks", big), 413, "payload_too_large",
             "a body over max_body_bytes (2048) is 413")
    just = {"capability": "echo", "input": {"pad": "x" * 1500}}
    is_(d.post("/v1/tasks", just)[0], 201, "a body under the limit is taken")
    is_error(post_chunked(d, json.dumps(big).encode()), 413,
             "payload_too_large", "a chunked body over the limit is 413")
    is_(post_chunked(d, json.dumps(just).encode())[0], 201,
        "a chunked body under the limit is taken")
    deep = "[" * 20 + "]" * 20
    is_error(post_raw(d, '{"capability": "echo", "input": {"a": %s}}' % deep),
             400, "too_deep", "nesting deeper than max_json_depth is 400")
    ok_depth = "[" * 3 + "]" * 3
    is_(post_raw(d, '{"capability": "echo", "input": {"a": %s}}'
                 % ok_depth)[0], 201, "nesting within the limit is taken")
    very = '{"capability": "echo", "input": %s}' % ("[" * 900 + "]" * 900)
    is_error(post_raw(d, very), 400, "too_deep",
             "very deep nesting is too_deep, not a crash")


def test_fields(d):
    is_error(d.submit("no.such.capability"), 404, "unknown_capability",
             "an unknown capability is 404")
    is_error(d.submit("sleep", {"ms": 1}, match={"kind": "nope"}), 422,
             "no_provider", "a match no provider satisfies is 422")
    is_(d.submit("sleep", {"ms": 1}, match={"kind": "timer"})[0], 201,
        "a match the provider satisfies is taken")
    for inp, why in (({"ms": -1}, "below minimum"),
                     ({"ms": "x"}, "a string"),
                     ({"ms": 3600001}, "above maximum"),
                     ({"ms": 1.5}, "not an integer")):
        r = d.submit("sleep", inp)
        is_error(r, 422, "invalid_input", "sleep ms %s is 422" % why)
        det = (r[2].get("error") or {}).get("details") or {} \
            if isinstance(r[2], dict) else {}
        is_(det.get("path"), "/ms", "...details.path is /ms")
        ok(isinstance(det.get("reason"), str) and det["reason"],
           "...details.reason says why")
    is_error(d.submit("sleep", {}), 422, "invalid_input",
             "sleep without ms is 422")
    is_error(d.submit("sleep", {"ms": 1, "extra": True}), 422,
             "invalid_input", "sleep with an extra property is 422")
    is_error(d.post("/v1/tasks", {"input": {}}), 400, "bad_request",
             "a task without capability is 400")
    for field, value in (("capability", 5), ("priority", 1001),
                         ("priority", -1001), ("priority", "high"),
                         ("timeout_ms", 0), ("timeout_ms", -5),
                         ("retries", -1), ("retries", 11),
                         ("match", "timer"), ("idempotency_key", 7)):
        body = {"capability": "echo", "input": {}}
        body[field] = value
        is_error(d.post("/v1/tasks", body), 400, "bad_request",
                 "%s %r is 400 bad_request" % (field, value))


def test_ids_and_paths(d):
    tid = "0" * 32
    is_error(d.get("/v1/tasks/" + tid), 404, "not_found",
             "GET an unknown task id is 404")
    is_error(d.delete("/v1/tasks/" + tid), 404, "not_found",
             "DELETE an unknown task id is 404")
    for bad in ("xyz", "0" * 31, "g" * 32, "0" * 33):
        is_error(d.get("/v1/tasks/" + bad), 404, "not_found",
                 "malformed id %s is 404 not_found" % bad)
    is_error(d.get("/v1/nope"), 404, "not_found", "an unknown path is 404")
    is_error(d.get("/v1/tasks/%s/nope" % tid), 404, "not_found",
             "an unknown sub-path is 404")
    for method, path, allow in (("PUT", "/v1/tasks", ("GET", "POST")),
                                ("PATCH", "/v1/tasks/" + tid,
                                 ("GET", "DELETE")),
                                ("POST", "/healthz", ("GET",)),
                                ("DELETE", "/v1/capabilities", ("GET",))):
        r = d.request(method, path)
        is_error(r, 405, "method_not_allowed",
                 "%s %s is 405" % (method, path))
        got = {m.strip() for m in r[1].get("allow", "").split(",")}
        ok(set(allow) <= got, "...Allow lists %s (%r)"
           % (", ".join(allow), r[1].get("allow")))


def test_query(d):
    for q in ("limit=abc", "limit=0", "limit=1001", "limit=-1",
              "status=bogus", "cursor=not-a-cursor!"):
        is_error(d.get("/v1/tasks?" + q), 400, "bad_request",
                 "GET /v1/tasks?%s is 400" % q)
    tid = d.submit_ok("echo", {})
    for q in ("wait=abc", "wait=301", "wait=-1"):
        is_error(d.get("/v1/tasks/%s?%s" % (tid, q)), 400, "bad_request",
                 "GET task ?%s is 400" % q)


def test_malformed_http(d):
    s = socket.create_connection((HOST, d.port), timeout=10)
    try:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        data = b""
    finally:
        s.close()
    like(data.decode("latin-1").split("\r\n")[0], " 400",
         "a malformed request line is answered 400")


def raw_exchange(d, data):
    """Send raw bytes, read until the server closes -> text."""
    s = socket.create_connection((HOST, d.port), timeout=10)
    out = b""
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # answered and closed before reading it all: read on
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    return out.decode("latin-1")


def status_lines(text):
    return re.findall(r"HTTP/1\.1 (\d{3}) ", text)


def test_http_protocol(d):
    body = b'{"capability":"echo"}'
    head = (b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n")
    is_(status_lines(raw_exchange(
        d, head + b"Content-Length: 21\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"15\r\n" + body + b"\r\n0\r\n\r\n"))[:1], ["400"],
        "Content-Length with Transfer-Encoding is 400")
    is_(status_lines(raw_exchange(
        d, head + b"Content-Length: 21\r\nContent-Length: 5\r\n\r\n"
        + body))[:1], ["400"], "two different Content-Lengths are 400")
    is_(status_lines(raw_exchange(
        d, head + b"Content-Length: -5\r\n\r\n"))[:1], ["400"],
        "a negative Content-Length is 400")
    is_(status_lines(raw_exchange(
        d, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000
        + b"\r\n\r\n"))[:1], ["431"], "huge headers are 431")
    is_(status_lines(raw_exchange(d, b"GET /healthz HTTP/2.0\r\n\r\n"))[:1],
        ["505"], "HTTP/2.0 on the text protocol is 505")
    is_(status_lines(raw_exchange(
        d, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
        ["200", "404", "200"], "pipelined requests are answered in order")


def test_garbage(d):
    tid = d.submit_ok("garbage", {"mode": "no_result"}, timeout_ms=300)
    t = d.wait_task(tid, 10)
    is_(t.get("status"), "timed_out",
        "a loop handler that never finishes times out")
    tid = d.submit_ok("garbage", {"mode": "double_complete"})
    t = d.wait_task(tid, 10)
    is_((t.get("status"), t.get("result")), ("succeeded", {"first": 1}),
        "completing twice: the first result stands")
    found = any("second task_complete returned -3" in line
                for line in d.log_text().splitlines())
    ok(found, "the second task_complete answered MCPD_E_STATE")
    tid = d.submit_ok("garbage", {"mode": "error_return"})
    t = d.wait_task(tid, 10)
    is_(t.get("status"), "failed", "a handler error return fails the task")
    err = t.get("error") or {}
    ok(isinstance(err.get("code"), str) and err["code"]
       and isinstance(err.get("message"), str),
       "...with an error code and message (%r)" % err)
    tid = d.submit_ok("garbage", {"mode": "fail_null"})
    t = d.wait_task(tid, 10)
    is_(t.get("status"), "failed", "task_fail(NULL, NULL) fails the task")
    err = t.get("error") or {}
    ok(isinstance(err.get("code"), str) and err["code"],
       "...with a default code (%r)" % err)
    tid = d.submit_ok("garbage.blocking", {})
    t = d.wait_task(tid, 10)
    is_(t.get("status"), "failed",
        "a blocking handler that returns without a result fails the task")
    like((t.get("error") or {}).get("message", ""),
         "handler returned without a result", "...saying so")
    st, _, body = d.get("/healthz")
    is_((st, body), (200, {"status": "ok"}), "the daemon stays healthy")


def test_plugin_config(d):
    tid = d.submit_ok("sleep", {"ms": 20000})
    t = d.wait_task(tid, 10)
    is_((t.get("status"), (t.get("error") or {}).get("code")),
        ("failed", "too_long"), "sleep over the plugin's max_ms fails")


def test_bad_plugin_config():
    d = Daemon(config={"plugins": {"sleep": {"max_ms": "long"}}})
    _, _, body = d.get("/v1/plugins")
    sleep = [p for p in body.get("plugins", []) if p.get("name") == "sleep"] \
        if isinstance(body, dict) else []
    is_(sleep and sleep[0].get("status"), "refused",
        "sleep with a bad max_ms refuses to load")
    like(d.log_text(), "max_ms", "...and its log line names max_ms")
    is_error(d.submit("sleep", {"ms": 1}), 404, "unknown_capability",
             "its capability is not served")
    is_(d.submit("echo", {})[0], 201, "the other plugins are")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")


def test_queue_full():
    d = Daemon(config={"workers": 1, "queue_limit": 2,
                       "default_concurrency": 1})
    first = d.submit_ok("sleep", {"ms": 30000})
    ok(d.wait_status(first, ("running",), 5), "the first sleep task runs")
    ids, full = [first], None
    for _ in range(10):
        r = d.submit("sleep", {"ms": 30000})
        if r[0] != 201:
            full = r
            break
        ids.append(r[2].get("id"))
    is_(len(ids), 3, "one running and queue_limit (2) queued are taken")
    ok(full is not None, "then the queue is full")
    if full:
        is_error(full, 429, "queue_full", "a full queue answers 429")
        ra = full[1].get("retry-after", "")
        ok(re.match(r"^\d+$", ra), "...with Retry-After (%r)" % ra)
    is_(d.submit("echo", {})[0], 201, "other capabilities have own queues")
    for tid in ids:
        d.delete("/v1/tasks/" + tid)
    is_(d.submit("sleep", {"ms": 1})[0], 201,
        "after cancelling, the queue takes tasks again")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")


def test_config_errors():
    mcpd = env("MCPD_BIN")
    tmp = tempdir()
    base = ["--listen", "127.0.0.1:0", "--state-dir",
            os.path.join(tmp, "state"), "--plugin-dir",
            env("MCPD_PLUGIN_DIR")]

    def one_line(args, needle, name):
        rc, out, err = run([mcpd] + base + args, timeout=10)
        lines = [x for x in err.splitlines() if x.strip()]
        ok(rc not in (0, -1), "%s: exits non-zero (%d)" % (name, rc))
        if not is_(len(lines), 1, "%s: one line on stderr" % name):
            diag(err)
        like(err, needle, "%s: the line names %s" % (name, needle))

    one_line(["--config", write_config({"bogus_key": 1}, tmp)], "bogus_key",
             "unknown config key")
    one_line(["--config", write_config({"workers": 0}, tmp)], "workers",
             "workers 0")
    one_line(["--config", write_config({"queue_limit": "many"}, tmp)],
             "queue_limit", "queue_limit a string")
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write("{\"workers\": ")
    one_line(["--config", bad], "bad.json", "config that is not JSON")
    one_line(["--config", os.path.join(tmp, "missing.json")], "missing.json",
             "missing config file")
    one_line(["--listen", "nonsense"], "listen", "--listen nonsense")
    rc, _, err = run([mcpd, "--no-such-flag"], timeout=10)
    ok(rc not in (0, -1), "an unknown flag exits non-zero (%d)" % rc)
    like(err, "no-such-flag", "...naming the flag")
    rc, out, err = run([mcpd, "--version"], timeout=10)
    is_(rc, 0, "--version exits 0")
    ok(re.search(r"\d+\.\d+\.\d+", out + err), "--version prints a version")
    rc, out, err = run([mcpd, "--help"], timeout=10)
    is_(rc, 0, "--help exits 0")
    like(out, "--listen", "--help describes --listen")

    # One mcpd per state dir: a second would requeue the first's tasks.
    first = Daemon(state_dir=os.path.join(tmp, "shared"))
    one_line(["--state-dir", os.path.join(tmp, "shared")], "in use by another mcpd (pid %d)" % first.proc.pid,
             "a second mcpd on a state dir in use")
    is_(first.stop(), 0, "the first one was not disturbed")
    d2 = Daemon(state_dir=os.path.join(tmp, "shared"))
    is_(d2.get("/healthz")[0], 200, "the state dir is free again after it exited")
    is_(d2.stop(), 0, "and that one stops cleanly")


def main():
    d = Daemon(plugin_dirs=[env("MCPD_PLUGIN_DIR"),
                            env("MCPD_TEST_PLUGIN_DIR")],
               config={"max_body_bytes": 2048, "max_json_depth": 8,
                       "plugins": {"sleep": {"max_ms": 10000}}})
    for t in (test_json, test_media_type, test_limits, test_fields,
              test_ids_and_paths, test_query, test_malformed_http,
              test_http_protocol, test_plugin_config, test_garbage):
        diag(t.__name__)
        t(d)
    st, _, _ = d.get("/healthz")
    is_(st, 200, "after all that, /healthz is still 200")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")
    for t in (test_bad_plugin_config, test_queue_full, test_config_errors):
        diag(t.__name__)
        t()
    done_testing()


main()
