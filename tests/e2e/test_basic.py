#!/usr/bin/env python3
"""The REST API as README describes it: health, capabilities, plugins, the
task life cycle, listing, idempotency, priorities, cancellation, events,
timeouts, retries and metrics."""

import http.client
import os
import re
import socket
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (HOST, Daemon, diag, done_testing, env, is_, is_error,
                      like, ok)

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_health(d):
    st, _, body = d.get("/healthz")
    is_((st, body), (200, {"status": "ok"}), "GET /healthz is 200 ok")
    st, _, body = d.get("/readyz")
    is_(st, 200, "GET /readyz is 200 once started")
    is_(isinstance(body, dict) and body.get("status"), "ready",
        "readyz says ready")


def test_capabilities(d):
    st, _, body = d.get("/v1/capabilities")
    is_(st, 200, "GET /v1/capabilities")
    caps = {c.get("name"): c for c in body.get("capabilities", [])} \
        if isinstance(body, dict) else {}
    names = [c.get("name") for c in body.get("capabilities", [])] \
        if isinstance(body, dict) else []
    is_(names, sorted(names), "capabilities are sorted by name")
    ok("echo" in caps and "sleep" in caps, "echo and sleep are listed")
    echo, sleep = caps.get("echo", {}), caps.get("sleep", {})
    is_(echo.get("version"), "1.0", "echo version")
    is_(echo.get("input_schema"), {"type": "object"}, "echo input schema")
    is_(echo.get("blocking"), False, "echo is not blocking")
    sch = sleep.get("input_schema", {})
    is_(sch.get("required"), ["ms"], "sleep requires ms")
    is_(sch.get("additionalProperties"), False,
        "sleep allows no other properties")
    is_(sch.get("properties", {}).get("ms", {}).get("type"), "integer",
        "sleep ms is an integer")
    ok(isinstance(sleep.get("output_schema"), dict)
       and "slept_ms" in sleep["output_schema"].get("properties", {}),
       "sleep declares its output schema")
    is_(sleep.get("blocking"), True, "sleep is blocking")
    provs = sleep.get("providers") or [{}]
    is_(provs[0].get("plugin"), "sleep", "sleep is provided by plugin sleep")
    is_(provs[0].get("attributes"), {"kind": "timer"}, "sleep attributes")
    is_(provs[0].get("breaker"), "closed", "breaker starts closed")
    ok(isinstance(provs[0].get("max_concurrency"), int)
       and provs[0]["max_concurrency"] > 0,
       "max_concurrency 0 becomes the host default")


def test_plugins(d):
    st, _, body = d.get("/v1/plugins")
    is_(st, 200, "GET /v1/plugins")
    plugs = {p.get("name"): p for p in body.get("plugins", [])
             if p.get("status") == "loaded"} if isinstance(body, dict) else {}
    for name in ("echo", "sleep", "flaky", "garbage"):
        is_(plugs.get(name, {}).get("status"), "loaded", "%s is loaded" % name)
    is_(plugs.get("echo", {}).get("capabilities"), ["echo"],
        "echo declares [echo]")
    is_(plugs.get("echo", {}).get("abi"), "1.2",
        "echo speaks the ABI of the header it was built with (1.2)")
    is_(plugs.get("echo", {}).get("generation"), 1, "first generation")
    is_(plugs.get("echo", {}).get("in_flight"), 0, "nothing in flight")
    like(plugs.get("sleep", {}).get("file", ""), "sleep.so",
         "plugin file is listed")


def test_echo(d):
    inp = {"a": 1, "b": [True, None, "x"], "c": {"d": 1.5}}
    st, hdrs, body = d.submit("echo", inp)
    is_(st, 201, "POST echo is 201 Created")
    tid = body.get("id") if isinstance(body, dict) else None
    ok(tid and HEX32.match(tid), "the id is 32 hex digits")
    is_(hdrs.get("location"), "/v1/tasks/%s" % tid, "Location header")
    ok(body.get("status") in ("queued", "running", "succeeded"),
       "a new task is queued, running or done")
    is_(body.get("input"), inp, "the task echoes its input")
    t = d.wait_task(tid, 10)
    is_(t and t.get("status"), "succeeded", "echo task succeeds")
    is_(t and t.get("result"), inp, "echo result equals the input")
    is_(t and t.get("provider"), "echo", "provider is the plugin name")
    is_(t and t.get("attempts"), 1, "one attempt")
    is_(t and t.get("links", {}).get("self"), "/v1/tasks/%s" % tid,
        "links.self")
    ok(t and t.get("created_at") and t.get("started_at")
       and t.get("finished_at"), "timestamps are set")
    st, _, body = d.submit("echo")
    is_(st, 201, "input defaults to {}")
    t = d.wait_task(body.get("id"), 10) if st == 201 else None
    is_(t and t.get("result"), {}, "echo of the default input is {}")
    # NUL is valid in a JSON string: stored, read back, listed intact.
    nul = {"s": "a\u0000b" * 3}
    tid = d.submit_ok("echo", nul)
    t = d.wait_task(tid, 10) if tid else {}
    is_(t.get("result"), nul, "a result holding NUL reads back from the store")
    st, _, page = d.get("/v1/tasks?capability=echo&limit=50")
    ok(st == 200 and tid in [x.get("id") for x in page.get("tasks", [])],
       "and is listed")
    _, _, evs, _ = d.events(tid)
    ok(len(evs) >= 3, "and its events replay (%d)" % len(evs))


def test_wait(d):
    tid = d.submit_ok("sleep", {"ms": 300})
    t0 = time.monotonic()
    st, _, t = d.get("/v1/tasks/%s?wait=5" % tid, timeout=20)
    took = time.monotonic() - t0
    is_(st, 200, "GET ?wait=5")
    is_(t.get("status"), "succeeded", "?wait returns the finished task")
    ok(took < 4.5, "?wait returned when the task finished (%.2f s)" % took)
    is_(t.get("result"), {"slept_ms": 300}, "sleep result")
    p = t.get("progress") or {}
    is_((p.get("done"), p.get("total")), (300, 300), "final progress")
    st, _, t = d.get("/v1/tasks/%s?wait=0" % tid)
    is_((st, t.get("status")), (200, "succeeded"), "?wait=0 answers at once")


def list_all(d, query, limit):
    """Walk every page -> (ids, pages, every listed task)."""
    ids, pages, tasks, cursor = [], 0, [], None
    while pages < 100:
        path = "/v1/tasks?%s&limit=%d" % (query, limit)
        if cursor:
            path += "&cursor=" + cursor
        st, _, body = d.get(path)
        if st != 200:
            ok(False, "GET %s is 200 (got %s %r)" % (path, st, body))
            break
        pages += 1
        page = body.get("tasks", [])
        if len(page) > limit:
            ok(False, "a page holds at most limit tasks")
        tasks += page
        ids += [x.get("id") for x in page]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return ids, pages, tasks


def test_list(d):
    mine = []
    for i in range(7):
        tid = d.submit_ok("echo", {"i": i})
        mine.append(tid)
        time.sleep(0.002)
    for tid in mine:
        d.wait_task(tid, 10)
    ids, pages, tasks = list_all(d, "capability=echo", 3)
    is_(len(ids), len(set(ids)), "no task is listed twice across pages")
    ok(pages >= 3, "7+ tasks at limit=3 take at least 3 pages (%d)" % pages)
    is_([x for x in ids if x in mine], list(reversed(mine)),
        "newest first, every one of the 7 found")
    is_(ids, sorted(ids, reverse=True), "the whole walk is in id order")
    ok(all(x.get("capability") == "echo" for x in tasks),
       "capability filter keeps only echo")
    ok(all("input" not in x and "result" not in x for x in tasks),
       "listed tasks omit input and result")
    st, _, body = d.get("/v1/tasks?limit=3&capability=echo")
    ok(st == 200 and isinstance(body.get("next_cursor"), str),
       "a full page has a next_cursor")
    st, _, body = d.get("/v1/tasks?capability=echo&limit=1000")
    is_(st == 200 and body.get("next_cursor"), None,
        "the last page has next_cursor null")
    _, _, body = d.get("/v1/tasks?status=succeeded&limit=1000")
    ok(body.get("tasks") and all(x.get("status") == "succeeded"
                                 for x in body["tasks"]),
       "status filter keeps only succeeded")
    _, _, body = d.get("/v1/tasks?capability=sleep&limit=1000")
    ok(body.get("tasks") and all(x.get("capability") == "sleep"
                                 for x in body["tasks"]),
       "capability filter keeps only sleep")
    _, _, body = d.get("/v1/tasks?capability=echo&status=failed")
    is_(body.get("tasks"), [], "filters combine (no failed echo)")


def test_idempotency(d):
    key = "idem-" + uuid.uuid4().hex
    st1, _, b1 = d.submit("echo", {"n": 1}, idempotency_key=key)
    st2, _, b2 = d.submit("echo", {"n": 2}, idempotency_key=key)
    is_(st1, 201, "first POST with a key is 201")
    is_(st2, 200, "second POST with the same key is 200")
    is_(b2.get("id"), b1.get("id"), "...with the same task")
    is_(b2.get("idempotency_key"), key, "the task shows its key")
    is_(b2.get("input"), {"n": 1}, "the second body created nothing")


def test_cancel(d):
    tid = d.submit_ok("sleep", {"ms": 20000})
    t = d.wait_status(tid, ("running",), 5)
    ok(t is not None, "the sleep task is running")
    st, _, body = d.delete("/v1/tasks/%s" % tid)
    is_(st, 200, "DELETE a running task is 200")
    is_(body.get("status"), "cancelled", "...and answers it cancelled")
    is_(d.task(tid).get("status"), "cancelled", "GET shows it cancelled")
    ok(isinstance(d.task(tid).get("error"), dict),
       "a cancelled task has an error object")
    _, _, evs, ended = d.events(tid, 5)
    ok(ended, "the events stream of a cancelled task ends")
    last = evs[-1]["data"] if evs else {}
    is_((last.get("type"), last.get("status")), ("status", "cancelled"),
        "its last event is status cancelled")
    is_error(d.delete("/v1/tasks/%s" % tid), 409, "conflict",
             "cancelling it again is 409 conflict")
    done = d.submit_ok("echo", {"x": 1})
    d.wait_task(done, 10)
    is_error(d.delete("/v1/tasks/%s" % done), 409, "conflict",
             "cancelling a finished task is 409 conflict")
    is_(d.task(done).get("status"), "succeeded", "...and leaves it succeeded")


def test_events(d):
    tid = d.submit_ok("sleep", {"ms": 500})
    st, hdrs, evs, ended = d.events(tid, 10)
    is_(st, 200, "GET events is 200")
    like(hdrs.get("content-type", ""), "text/event-stream",
         "content type text/event-stream")
    ok(ended, "the stream ends after the final event")
    datas = [e.get("data") if isinstance(e.get("data"), dict) else {}
             for e in evs]
    seqs = [x.get("seq") for x in datas]
    ok(seqs and all(isinstance(s, int) for s in seqs)
       and all(a < b for a, b in zip(seqs, seqs[1:])),
       "seq strictly increases: %s" % seqs)
    ok(all(e.get("id") == str(x.get("seq")) for e, x in zip(evs, datas)),
       "each SSE id is the event's seq")
    ok(all(e.get("event") == x.get("type") for e, x in zip(evs, datas)),
       "each SSE event name is the event's type")
    prog = [x for x in datas if x.get("type") == "progress"]
    ok(len(prog) >= 1, "progress events were sent (%d)" % len(prog))
    ok(all(p.get("total") == 500 and 0 <= p.get("done", -1) <= 500
           for p in prog), "progress done/total in ms")
    ok(all(isinstance(x.get("time"), str) for x in datas), "events have time")
    last = datas[-1] if datas else {}
    is_((last.get("type"), last.get("status")), ("status", "succeeded"),
        "the last event is status succeeded")
    st, _, again, ended = d.events(tid, 5)
    ok(st == 200 and ended, "replay on a finished task ends")
    is_([e.get("data") for e in again], datas,
        "replay gives the same events")
    st, _, _, _ = d.events("0" * 32, 5)
    is_(st, 404, "events of an unknown task is 404")


def test_last_event_id(d):
    tid = d.submit_ok("sleep", {"ms": 200})
    d.wait_task(tid, 10)
    _, _, full, _ = d.events(tid, 5)
    conn = http.client.HTTPConnection(HOST, d.port, timeout=10)
    try:
        conn.request("GET", "/v1/tasks/%s/events" % tid,
                     headers={"Last-Event-ID": "2"})
        r = conn.getresponse()
        text = r.read().decode()
    finally:
        conn.close()
    ids = [int(x) for x in re.findall(r"^id: (\d+)$", text, re.M)]
    is_(ids, [e["data"]["seq"] for e in full if e["data"]["seq"] > 2],
        "Last-Event-ID: 2 resumes after event 2")


def raw_get(d, path):
    s = socket.create_connection((HOST, d.port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    return s


def test_disconnects(d):
    """Clients that go away while waiting must not hurt the daemon."""
    tids = [d.submit_ok("sleep", {"ms": 300}) for _ in range(4)]
    socks = []
    for tid in tids:
        socks.append(raw_get(d, "/v1/tasks/%s?wait=10" % tid))
        socks.append(raw_get(d, "/v1/tasks/%s/events" % tid))
    time.sleep(0.1)
    for s in socks[:4]:
        s.close()  # before the tasks finish
    ok(all(d.wait_task(t, 10).get("status") == "succeeded" for t in tids),
       "tasks finish although their watchers left")
    for s in socks[4:]:
        s.close()  # after they finished, unread
    st, _, _ = d.get("/healthz")
    is_(st, 200, "the daemon is fine after clients vanished")


def test_timeout(d):
    tid = d.submit_ok("sleep", {"ms": 2000}, timeout_ms=200)
    t0 = time.monotonic()
    t = d.wait_task(tid, 10)
    is_(t.get("status"), "timed_out",
        "sleep 2000 with timeout_ms 200 times out")
    ok(time.monotonic() - t0 < 1.8, "...well before the sleep would end")
    ok(isinstance(t.get("error"), dict) and t["error"].get("code"),
       "a timed-out task has an error code")
    is_(t.get("timeout_ms"), 200, "the task shows its timeout_ms")
    tid = d.submit_ok("sleep", {"ms": 2000}, timeout_ms=100, retries=2)
    t = d.wait_task(tid, 10)
    is_((t.get("status"), t.get("attempts")), ("timed_out", 3),
        "a timed-out attempt is retried: timed_out after 3 attempts")


def test_retries(d):
    key = "k-" + uuid.uuid4().hex
    tid = d.submit_ok("flaky", {"key": key, "fail_times": 2}, retries=3)
    t = d.wait_task(tid, 20)
    is_(t.get("status"), "succeeded", "flaky with 2 failures and 3 retries")
    is_(t.get("result"), {"attempts": 3}, "...succeeds on its third attempt")
    is_(t.get("attempts"), 3, "the task counts 3 attempts")
    is_(t.get("provider"), "flaky", "provider flaky")

    key = "k-" + uuid.uuid4().hex
    tid = d.submit_ok("flaky", {"key": key, "fail_times": 5}, retries=1)
    t = d.wait_task(tid, 20)
    is_(t.get("status"), "failed", "flaky with more failures than retries")
    is_(t.get("attempts"), 2, "...fails after 1 + retries attempts")
    is_((t.get("error") or {}).get("code"), "flaky",
        "...with the plugin's error code")

    tid = d.submit_ok("sleep", {"ms": 10, "fail": True}, retries=0)
    t = d.wait_task(tid, 10)
    is_(t.get("status"), "failed", "sleep with fail:true fails")
    is_((t.get("error") or {}).get("code"), "requested_failure",
        "...with code requested_failure")
    ok(isinstance((t.get("error") or {}).get("message"), str),
       "...and a message")
    is_(t.get("attempts"), 1, "retries 0 means one attempt")


def test_metrics(d):
    st, hdrs, text = d.get("/metrics")
    is_(st, 200, "GET /metrics")
    like(hdrs.get("content-type", ""), "text/plain", "metrics are text/plain")
    text = text if isinstance(text, str) else ""
    like(text, 'mcpd_tasks_submitted_total{capability="echo"}',
         "submitted counter for echo")
    like(text, "# HELP mcpd_tasks_submitted_total", "HELP line")
    like(text, "# TYPE mcpd_tasks_submitted_total counter", "TYPE line")
    m = re.search(r'^mcpd_tasks_submitted_total\{capability="echo"\} (\d+)',
                  text, re.M)
    ok(m and int(m.group(1)) >= 10, "echo submissions counted (%s)"
       % (m.group(1) if m else None))
    like(text, 'mcpd_tasks_finished_total{capability="sleep",status="failed"}',
         "finished counter by capability and status")
    like(text, "# TYPE mcpd_task_duration_seconds histogram",
         "duration histogram")
    like(text, 'mcpd_plugins{state="loaded"}', "plugins gauge")
    for name in ("mcpd_queue_depth", "mcpd_tasks_running",
                 "mcpd_http_requests_total"):
        like(text, "\n%s{" % name, "%s is exported" % name)
    check_exposition(text)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def check_exposition(text):
    """Every sample belongs to a family with # TYPE; histograms have
    cumulative buckets ending in +Inf equal to _count."""
    types, bad, buckets, counts = {}, [], {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            bad.append(line)
            continue
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and family not in types:
            bad.append(line)
        try:
            v = float(value)
        except ValueError:
            bad.append(line)
            continue
        if name.endswith("_bucket"):
            key = (family, re.sub(r',?le="[^"]*"', "", labels or ""))
            buckets.setdefault(key, []).append(v)
        elif name.endswith("_count") and types.get(family) == "histogram":
            counts[(family, labels or "{}")] = v
    is_(bad, [], "every metrics line is a valid sample of a typed family")
    mono = all(all(a <= b for a, b in zip(vs, vs[1:]))
               for vs in buckets.values())
    ok(buckets and mono, "histogram buckets are cumulative")
    ok(all(counts.get(k) == vs[-1] for k, vs in buckets.items()),
       "the +Inf bucket equals _count")


def test_priority():
    """One worker and concurrency 1: queued tasks start by priority."""
    d = Daemon(config={"workers": 1, "default_concurrency": 1})
    long_ = d.submit_ok("sleep", {"ms": 800})
    ok(d.wait_status(long_, ("running",), 5), "the long task runs first")
    low = d.submit_ok("sleep", {"ms": 100}, priority=-5)
    mid = d.submit_ok("sleep", {"ms": 100})
    high = d.submit_ok("sleep", {"ms": 100}, priority=5)
    gone = d.submit_ok("sleep", {"ms": 100}, priority=10)
    is_(d.task(high).get("status"), "queued", "the others are queued")
    st, _, body = d.delete("/v1/tasks/%s" % gone)
    is_((st, body.get("status")), (200, "cancelled"),
        "a queued task can be cancelled")
    ts = {k: d.wait_task(v, 10) for k, v in
          (("long", long_), ("low", low), ("mid", mid), ("high", high))}
    ok(all(t.get("status") == "succeeded" for t in ts.values()),
       "all four succeed")
    order = sorted(ts, key=lambda k: ts[k].get("started_at") or "")
    is_(order, ["long", "high", "mid", "low"],
        "queued tasks start by priority, highest first")
    is_(d.task(gone).get("started_at"), None,
        "the cancelled queued task never started")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")


def test_worker_pool():
    """Fewer workers than the capability's concurrency: a blocking task
    waiting for a worker thread has not started, so its attempt's
    timeout must not run out before it gets one."""
    d = Daemon(config={"workers": 1})
    ids = [d.submit_ok("sleep", {"ms": 300}, timeout_ms=500)
           for _ in range(3)]
    got = [d.wait_task(t, 10).get("status") for t in ids]
    is_(got, ["succeeded"] * 3,
        "3 sleep 300 tasks with timeout_ms 500 all succeed on one worker")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")


def test_callers_fault():
    """A failure with code bad_input is the caller's: final at once (no
    retry), and no count against the provider's circuit breaker."""
    d = Daemon(plugin_dirs=[env("MCPD_TEST_PLUGIN_DIR")],
               config={"retry_base_ms": 10, "breaker_failures": 2})

    def breaker():
        _, _, body = d.get("/v1/capabilities")
        cap = [c for c in body.get("capabilities", [])
               if c.get("name") == "flaky"] or [{}]
        return ((cap[0].get("providers") or [{}])[0]).get("breaker")

    got = []
    for _ in range(4):
        tid = d.submit_ok("flaky", {"key": "k-" + uuid.uuid4().hex,
                                    "fail_times": 9, "code": "bad_input"},
                          retries=3)
        t = d.wait_task(tid, 10)
        got.append((t.get("status"), t.get("attempts"),
                    (t.get("error") or {}).get("code")))
    is_(got, [("failed", 1, "bad_input")] * 4,
        "bad_input fails at once, not retried")
    is_(breaker(), "closed", "four bad_input failures leave the breaker closed")
    tid = d.submit_ok("flaky", {"key": "k-" + uuid.uuid4().hex,
                                "fail_times": 9}, retries=1)
    t = d.wait_task(tid, 10)
    is_((t.get("status"), t.get("attempts")), ("failed", 2),
        "a provider failure is retried")
    is_(breaker(), "open", "and two of them open the breaker")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")


def main():
    d = Daemon(plugin_dirs=[env("MCPD_PLUGIN_DIR"),
                            env("MCPD_TEST_PLUGIN_DIR")],
               # Many sleep tasks here fail on purpose: keep the breaker
               # out of the way of the tests that come after them.
               config={"retry_base_ms": 50, "retry_max_ms": 200,
                       "breaker_failures": 1000})
    for t in (test_health, test_capabilities, test_plugins, test_echo,
              test_wait, test_list, test_idempotency, test_cancel,
              test_events, test_last_event_id, test_disconnects,
              test_timeout, test_retries, test_metrics):
        diag(t.__name__)
        t(d)
    st, _, _ = d.get("/healthz")
    is_(st, 200, "still healthy")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")
    for t in (test_priority, test_worker_pool, test_callers_fault):
        diag(t.__name__)
        t()
    done_testing()


main()
