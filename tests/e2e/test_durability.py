#!/usr/bin/env python3
"""SIGKILL under load: every task the API acknowledged (201) is still there
after a restart on the same state directory, and the tasks that were queued
or running when the daemon died get finished."""

import collections
import http.client
import json
import os
import signal
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (FINAL, HOST, SLOW, Daemon, diag, done_testing, env, is_,
                      ok, wait_until)

THREADS = 4
MAX_REQUESTS = 2000
MAX_SECONDS = 5.0
KILL_AFTER = 1.5  # seconds of load before SIGKILL


class Conn:
    """A keep-alive connection that reconnects once on failure."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def request(self, method, path, body=None):
        for attempt in (1, 2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(HOST, self.port,
                                                        timeout=10 * SLOW)
                hdrs = {"Content-Type": "application/json"} if body else {}
                self.c.request(method, path,
                               json.dumps(body) if body else None, hdrs)
                r = self.c.getresponse()
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
            except (OSError, http.client.HTTPException, ValueError):
                self.close()
                if attempt == 2:
                    raise
        return None, None

    def close(self):
        if self.c:
            self.c.close()
            self.c = None


class Load:
    def __init__(self, port):
        self.port = port
        self.lock = threading.Lock()
        self.acked = []
        self.sent = 0
        self.codes = collections.Counter()
        self.stop = threading.Event()

    def worker(self, n):
        c = Conn(self.port)
        deadline = time.monotonic() + MAX_SECONDS * SLOW
        i = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            with self.lock:
                if self.sent >= MAX_REQUESTS:
                    break
                self.sent += 1
            i += 1
            body = ({"capability": "echo", "input": {"t": n, "i": i}}
                    if i % 2 else
                    {"capability": "sleep", "input": {"ms": 50}})
            try:
                st, b = c.request("POST", "/v1/tasks", body)
            except (OSError, http.client.HTTPException, ValueError):
                with self.lock:
                    self.codes["error"] += 1
                if self.stop.is_set():
                    break
                time.sleep(0.01)
                continue
            with self.lock:
                self.codes[st] += 1
                if st == 201 and isinstance(b, dict) and b.get("id"):
                    self.acked.append(b["id"])
        c.close()


def main():
    d = Daemon()
    load = Load(d.port)
    threads = [threading.Thread(target=load.worker, args=(n,), daemon=True)
               for n in range(THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    wait_until(lambda: load.sent >= MAX_REQUESTS * 0.6, KILL_AFTER)
    d.kill(signal.SIGKILL)
    killed_at = time.monotonic() - t0
    load.stop.set()
    for t in threads:
        t.join(30 * SLOW)
    ok(not any(t.is_alive() for t in threads), "load threads stopped")
    acked = list(load.acked)
    diag("killed after %.2f s; %d requests sent, %d acknowledged; codes %s"
         % (killed_at, load.sent, len(acked), dict(load.codes)))
    ok(len(acked) > 0, "some tasks were acknowledged before the kill")
    is_(len(acked), len(set(acked)), "acknowledged ids are unique")

    d.start()
    c = Conn(d.port)
    missing, statuses = [], collections.Counter()
    for tid in acked:
        st, body = c.request("GET", "/v1/tasks/" + tid)
        if st != 200:
            missing.append((tid, st))
        else:
            statuses[body.get("status")] += 1
    diag("after restart: %s" % dict(statuses))
    if not is_(len(missing), 0, "every acknowledged task survived SIGKILL"):
        diag("missing (first 10): %s" % missing[:10])

    def settled():
        for s in ("queued", "running"):
            st, body = c.request("GET", "/v1/tasks?status=%s&limit=1" % s)
            if st != 200 or body.get("tasks"):
                return False
        return True
    ok(wait_until(settled, 30, 0.2),
       "tasks left queued or running by the kill finish after restart")
    final, unfinished = collections.Counter(), []
    for tid in acked:
        st, body = c.request("GET", "/v1/tasks/" + tid)
        s = body.get("status") if st == 200 else st
        final[s] += 1
        if s not in FINAL:
            unfinished.append((tid, s))
    diag("finally: %s" % dict(final))
    if not is_(len(unfinished), 0, "every acknowledged task is final"):
        diag("unfinished (first 10): %s" % unfinished[:10])
    # Only attempts running at the kill may fail (retries 0): at most the
    # default concurrency (4) of each of the two capabilities.
    ok(final["succeeded"] >= len(acked) - 8,
       "all but those running at the kill succeeded (%d of %d)"
       % (final["succeeded"], len(acked)))
    st, body = c.request("GET", "/healthz")
    is_(st, 200, "healthy after recovery")
    c.close()
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")
    recovery()
    done_testing()


def recovery():
    """What else survives SIGKILL: idempotency keys, plugin key-value
    data, and a running task's retry policy; events keep their order."""
    diag("recovery of keys, plugin data and retries")
    d = Daemon(plugin_dirs=[env("MCPD_PLUGIN_DIR"),
                            env("MCPD_TEST_PLUGIN_DIR")],
               config={"retry_base_ms": 50, "retry_max_ms": 200})
    key = "dur-" + uuid.uuid4().hex
    first = d.submit_ok("echo", {"n": 1}, idempotency_key=key)
    flaky = d.submit_ok("flaky", {"key": key, "fail_times": 1})
    is_(d.wait_task(flaky, 10).get("status"), "failed",
        "flaky fails its first attempt")
    long_ = d.submit_ok("sleep", {"ms": 1500}, retries=2)
    ok(d.wait_status(long_, ("running",), 5), "a retrying task runs")
    time.sleep(0.3)
    d.kill(signal.SIGKILL)
    d.start()
    st, _, body = d.submit("echo", {"n": 2}, idempotency_key=key)
    is_((st, body.get("id")), (200, first),
        "an idempotency key survives SIGKILL")
    again = d.submit_ok("flaky", {"key": key, "fail_times": 1})
    is_(d.wait_task(again, 10).get("result"), {"attempts": 2},
        "plugin key-value data survives SIGKILL")
    t = d.wait_task(long_, 10)
    is_((t.get("status"), t.get("attempts")), ("succeeded", 2),
        "the interrupted attempt counts; the retry succeeds")
    _, _, evs, ended = d.events(long_, 5)
    seqs = [e["data"].get("seq") for e in evs if isinstance(e.get("data"),
                                                             dict)]
    ok(ended and seqs and all(a < b for a, b in zip(seqs, seqs[1:])),
       "events after the restart continue the sequence")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")


main()
