#!/usr/bin/env python3
"""Hot reload: SIGHUP, POST /v1/reload and mcpctl reload run one
transaction. A replaced plugin's running task finishes on its old
generation while new tasks go to the new one; a broken replacement or a
bad config is refused whole and the old set keeps serving; a removed
plugin's queued tasks wait for a provider or fail at their timeout; a
plugin's config change takes effect; a burst of SIGHUPs gives a bounded
number of reloads; systemd hears READY/RELOADING/STOPPING."""

import os
import shutil
import signal
import socket
import time

import mcpdtest as t

PLUGINS = t.env("MCPD_PLUGIN_DIR")
TEST_PLUGINS = t.env("MCPD_TEST_PLUGIN_DIR")
V2 = os.path.join(TEST_PLUGINS, "v2")


def plugins(d):
    st, _, body = d.get("/v1/plugins")
    return body if st == 200 else {}


def running_event(d, tid):
    """The data of the task's last "running" status event."""
    found = {}
    for ev in d.events(tid)[2]:
        data = ev.get("data") if isinstance(ev, dict) else None
        if isinstance(data, dict) and data.get("status") == "running":
            found = data
    return found


class Notify:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.seen = []

    def drain(self, until=None, timeout=10.0):
        """Read messages until one contains `until` (True), or, without
        `until`, until none came for 0.2 s; False at the timeout."""
        deadline = time.monotonic() + timeout * t.SLOW
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except socket.timeout:
                if until is None:
                    return True
            if until and any(until in m for m in self.seen):
                return True
        return False


def test_swap(d, pdir, note):
    t.diag("test_swap")
    is_ = t.is_
    is_(d.serving("sleep").get("generation"), 1, "sleep starts at generation 1")
    long_id = d.submit_ok("sleep", {"ms": 1500})
    t.ok(d.wait_status(long_id, ("running",), 10), "a long sleep task runs")

    t.replace_file(os.path.join(V2, "sleep.so"), os.path.join(pdir, "sleep.so"))
    t.replace_file(os.path.join(V2, "echo.so"), os.path.join(pdir, "echo.so"))
    note.seen.clear()
    os.kill(d.proc.pid, signal.SIGHUP)
    t.ok(t.wait_until(lambda: d.serving("sleep").get("version") == "2.0.0",
                      10 * t.SLOW), "after SIGHUP sleep 2.0.0 serves")
    new = d.serving("sleep")
    is_(new.get("generation"), 2, "as generation 2")
    old = [p for p in d.plugin_records("sleep") if p.get("status") == "draining"]
    t.ok(len(old) == 1, "the old generation is listed as draining")
    if old:
        is_(old[0].get("generation"), 1, "draining generation is 1")
        is_(old[0].get("in_flight"), 1, "with the long task in flight")
        is_(old[0].get("waiting_on", {}).get("worker_threads"), 1,
            "waiting on one worker thread inside its code")
    t.ok(note.drain("READY=1"), "systemd heard READY=1 after the reload")
    t.ok(any(m.startswith("RELOADING=1") and "MONOTONIC_USEC=" in m
             for m in note.seen), "and RELOADING=1 with MONOTONIC_USEC before")
    last = plugins(d).get("last_reload", {})
    is_(last.get("status"), "ok", "last_reload says ok")
    is_(sorted(x.get("name") for x in last.get("loaded", [])),
        ["echo", "sleep"], "it loaded echo and sleep")

    quick = d.submit_ok("sleep", {"ms": 20})
    is_(d.wait_task(quick).get("status"), "succeeded", "a new sleep succeeds")
    ev = running_event(d, quick)
    is_((ev.get("provider_version"), ev.get("generation")), ("2.0.0", 2),
        "served by the new generation")
    e = d.submit_ok("echo", {"x": 1})
    is_(d.wait_task(e).get("result"), {"x": 1}, "echo still echoes")
    is_(running_event(d, e).get("provider_version"), "2.0.0",
        "echo 2.0.0 served it")

    final = d.wait_task(long_id, timeout=15)
    is_(final.get("status"), "succeeded",
        "the task started before the swap succeeded")
    is_(final.get("attempts"), 1, "in its first attempt")
    ev = running_event(d, long_id)
    is_((ev.get("provider_version"), ev.get("generation")), ("1.0.0", 1),
        "on the old generation")
    t.ok(t.wait_until(lambda: not [p for p in plugins(d).get("plugins", [])
                                   if p.get("status") == "draining"],
                      10 * t.SLOW), "old generations are retired")
    t.ok((d.metric("mcpd_plugin_drains_total") or 0) >= 2,
         "mcpd_plugin_drains_total counts them")
    cache = os.path.join(d.state_dir, "plugin-cache")
    is_(len(os.listdir(cache)), 2,
        "their private copies are deleted (two serving copies remain)")


def test_broken(d, pdir):
    t.diag("test_broken")
    before = d.serving("echo")
    fails_before = d.metric("mcpd_reload_failures_total") or 0
    for src, why in (("init_fails.so", "init failed"),
                     ("bad_major.so", "ABI major 2")):
        t.replace_file(os.path.join(TEST_PLUGINS, src), os.path.join(pdir, "echo.so"))
        st, _, body = d.reload()
        t.is_error((st, None, body), 422, "reload_failed",
                   "a replacement with %s is refused" % why)
        msg = (body.get("error", {}) or {}).get("message", "")
        t.like(msg, os.path.join(pdir, "echo.so"), "the answer names the file")
        t.like(msg, why, "and says why (%s)" % why)
        errs = plugins(d).get("last_reload", {}).get("errors", [])
        t.ok(errs and errs[0].get("file") == os.path.join(pdir, "echo.so")
             and why in errs[0].get("reason", ""),
             "GET /v1/plugins shows the failed file and reason")
        now = d.serving("echo")
        t.is_((now.get("generation"), now.get("version")),
            (before.get("generation"), before.get("version")),
            "the old echo keeps serving")
        e = d.submit_ok("echo", {"still": True})
        t.is_(d.wait_task(e).get("status"), "succeeded", "and answers")

    code, out, err = t.run([t.env("MCPCTL_BIN"), "--url",
                            "http://%s:%d" % (t.HOST, d.port), "reload"])
    t.is_(code, 4, "mcpctl reload exits 4 on a refused reload")
    t.like(err, "echo.so", "its message names the failing file")
    t.like(err, "ABI major", "and the reason")
    t.is_(d.metric("mcpd_reload_failures_total"), fails_before + 3,
          "mcpd_reload_failures_total counted the three")

    t.replace_file(os.path.join(V2, "echo.so"), os.path.join(pdir, "echo.so"))
    code, out, err = t.run([t.env("MCPCTL_BIN"), "--url",
                            "http://%s:%d" % (t.HOST, d.port), "reload",
                            "--wait"])
    t.is_(code, 0, "mcpctl reload --wait succeeds once fixed")
    t.like(out, "loaded:", "it prints what it loaded")
    t.ok(any(ln.split() == ["drained:", "yes"] for ln in out.splitlines()),
         "and that the old one drained")
    t.is_(d.serving("echo").get("generation"), before.get("generation") + 1,
          "echo has a new generation")


def test_config(d, pdir):
    t.diag("test_config")
    cfg = dict(d.config)
    cfg["plugins"] = {"sleep": {"max_ms": 10}}
    d.set_config(cfg)
    gen = d.serving("sleep").get("generation")
    st, _, body = d.reload()
    t.is_(st, 200, "a reload with a changed plugin block succeeds")
    t.is_(d.serving("sleep").get("generation"), gen + 1,
          "sleep was re-initialised as a new generation")
    tid = d.submit_ok("sleep", {"ms": 50})
    fin = d.wait_task(tid)
    t.is_((fin.get("status"), (fin.get("error") or {}).get("code")),
          ("failed", "too_long"), "its new max_ms applies")

    cfg["workers"] = 2
    d.set_config(cfg)
    st, _, body = d.reload()
    t.is_(st, 200, "a reload that changes workers succeeds")
    t.is_(body.get("restart_required"), ["workers"],
          "and reports workers as needing a restart")
    t.is_(body.get("loaded"), [], "nothing reloaded for it")

    with open(d.config_path, "w") as f:
        f.write('{"plugins": {"sleep": {"max_ms": 100000}}, "workers": "x"}')
    st, _, body = d.reload()
    t.is_error((st, None, body), 422, "reload_failed", "a bad config is refused")
    t.like((body.get("error") or {}).get("message", ""), "workers",
           "naming the key")
    tid = d.submit_ok("sleep", {"ms": 50})
    t.is_(d.wait_task(tid).get("status"), "failed",
          "the running config stays (max_ms 10 still applies)")
    cfg["workers"] = 4
    cfg["plugins"] = {}
    d.set_config(cfg)
    st, _, _ = d.reload()
    t.is_(st, 200, "a good config reloads again")
    tid = d.submit_ok("sleep", {"ms": 50})
    t.is_(d.wait_task(tid).get("status"), "succeeded", "without the cap")


def test_removal(d, pdir):
    t.diag("test_removal")
    busy = d.submit_ok("sleep", {"ms": 1200})
    t.ok(d.wait_status(busy, ("running",), 10), "sleep is busy (concurrency 1)")
    short = d.submit_ok("sleep", {"ms": 10}, timeout_ms=700)
    patient = d.submit_ok("sleep", {"ms": 10}, timeout_ms=30000)
    os.unlink(os.path.join(pdir, "sleep.so"))
    st, _, body = d.reload()
    t.is_(st, 200, "removing sleep.so reloads")
    t.is_([x.get("name") for x in body.get("retiring", [])], ["sleep"],
          "sleep's generation is retiring")
    st, _, body = d.post("/v1/tasks", {"capability": "sleep",
                                       "input": {"ms": 1}})
    t.is_error((st, None, body), 404, "unknown_capability",
               "new sleep tasks are refused at once")
    t.is_(d.wait_task(busy, timeout=10).get("status"), "succeeded",
          "the running task finished on the removed plugin")
    fin = d.wait_task(short, timeout=10)
    t.is_((fin.get("status"), (fin.get("error") or {}).get("code")),
          ("failed", "no_provider"),
          "a queued task fails at its timeout with no_provider")
    t.like((fin.get("error") or {}).get("message", ""), "no loaded plugin",
           "with a clear message")
    t.is_(d.task(patient).get("status"), "queued",
          "a queued task with time left waits")
    t.replace_file(os.path.join(PLUGINS, "sleep.so"), os.path.join(pdir, "sleep.so"))
    st, _, _ = d.reload()
    t.is_(st, 200, "sleep.so is back")
    t.is_(d.wait_task(patient, timeout=10).get("status"), "succeeded",
          "and the waiting task ran on it")


def test_burst(d, pdir):
    t.diag("test_burst")
    before = d.metric("mcpd_reloads_total")
    t.replace_file(os.path.join(PLUGINS, "echo.so"), os.path.join(pdir, "echo.so"))
    for _ in range(20):
        os.kill(d.proc.pid, signal.SIGHUP)
    t.ok(t.wait_until(lambda: d.serving("echo").get("version") == "1.0.0",
                      10 * t.SLOW), "the burst reloaded echo 1.0.0")
    time.sleep(0.5 * t.SLOW)
    n = d.metric("mcpd_reloads_total") - before
    t.ok(1 <= n <= 5, "20 SIGHUPs made %d reloads (1 to 5)" % n)
    st, _, body = d.get("/readyz")
    t.is_(st, 200, "the daemon is ready after the burst")
    e = d.submit_ok("echo", {"after": "burst"})
    t.is_(d.wait_task(e).get("status"), "succeeded", "and serves")


def test_signal_during_reload(d, pdir):
    """SIGHUPs that arrive while a reload runs queue exactly one more."""
    t.diag("test_signal_during_reload")
    import threading
    cfg = dict(d.config)
    cfg["plugins"] = {"slow_init": {"init_ms": 800}}
    d.set_config(cfg)
    shutil.copyfile(os.path.join(TEST_PLUGINS, "slow_init.so"),
                    os.path.join(pdir, "slow_init.so"))
    before = d.metric("mcpd_reloads_total")
    answer = {}
    th = threading.Thread(target=lambda: answer.update(r=d.reload()))
    th.start()
    time.sleep(0.3 * t.SLOW)  # inside slow_init's init now
    for _ in range(5):
        os.kill(d.proc.pid, signal.SIGHUP)
    th.join(30 * t.SLOW)
    t.is_(answer.get("r", (0,))[0], 200, "the slow reload succeeded")
    t.ok(t.wait_until(lambda: d.metric("mcpd_reloads_total") - before >= 2,
                      5), "the signals made a second reload")
    time.sleep(0.5 * t.SLOW)
    t.is_(d.metric("mcpd_reloads_total") - before, 2,
          "exactly one more reload for five signals during one")
    e = d.submit_ok("slow_init.noop", {})
    t.is_(d.wait_task(e).get("status"), "succeeded", "the slow plugin serves")


def test_api_errors(d):
    t.diag("test_api_errors")
    st, _, body = d.get("/v1/reload")
    t.is_error((st, None, body), 405, "method_not_allowed", "GET /v1/reload")
    st, _, body = d.post("/v1/reload?wait=yes")
    t.is_error((st, None, body), 400, "bad_request", "wait must be 0 or 1")


def main():
    work = t.tempdir()
    pdir = os.path.join(work, "plugins")
    os.mkdir(pdir)
    for name in ("echo.so", "sleep.so"):
        shutil.copyfile(os.path.join(PLUGINS, name), os.path.join(pdir, name))
    note = Notify(work)
    os.environ["NOTIFY_SOCKET"] = note.path
    cfg = {"drain_timeout_ms": 8000, "default_concurrency": 1, "workers": 4,
           "plugins": {}}
    d = t.Daemon(plugin_dirs=[pdir], config=cfg)
    del os.environ["NOTIFY_SOCKET"]
    t.ok(note.drain("READY=1"), "systemd heard READY=1 after start")
    test_swap(d, pdir, note)
    test_broken(d, pdir)
    test_config(d, pdir)
    test_removal(d, pdir)
    test_burst(d, pdir)
    test_signal_during_reload(d, pdir)
    test_api_errors(d)
    note.drain()  # the queue is small: empty it, as systemd would
    note.seen.clear()
    d.stop()
    t.ok(note.drain("STOPPING=1"), "systemd heard STOPPING=1 on SIGTERM")
    t.done_testing()


if __name__ == "__main__":
    main()
