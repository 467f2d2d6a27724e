#!/usr/bin/env python3
"""ABI 1.2 on a live daemon: a plugin declares and withdraws capabilities
at run time (routable at once, gone at once, a running task of a withdrawn
capability still finishes, queued ones wait for it to come back), and reads
a pipe through a host fd watch; a reload retires such a generation
cleanly."""

import os
import shutil

import mcpdtest as t

TEST_PLUGINS = t.env("MCPD_TEST_PLUGIN_DIR")


def caps(d):
    _, _, body = d.get("/v1/capabilities")
    return sorted(c.get("name") for c in body.get("capabilities", []))


def control(d, op, name):
    tid = d.submit_ok("dyn.control", {"op": op, "name": name})
    return d.wait_task(tid).get("result", {}).get("rc")


def main():
    work = t.tempdir()
    pdir = os.path.join(work, "plugins")
    os.mkdir(pdir)
    shutil.copyfile(os.path.join(TEST_PLUGINS, "dynamic.so"),
                    os.path.join(pdir, "dynamic.so"))
    d = t.Daemon(plugin_dirs=[pdir])

    t.is_(caps(d), ["dyn.control", "dyn.pipe"], "declared in init")
    t.is_(control(d, "add", "alpha"), 0, "capability_add after init")
    t.is_(caps(d), ["dyn.alpha", "dyn.control", "dyn.pipe"],
          "the new capability is listed")
    tid = d.submit_ok("dyn.alpha", {"delay_ms": 0})
    t.is_(d.wait_task(tid).get("result"),
          {"name": "alpha", "input": {"delay_ms": 0}}, "and routed")
    t.is_(control(d, "add", "alpha"), -4, "declaring it twice: MCPD_E_EXISTS")

    t.diag("withdrawn while a task runs")
    slow = d.submit_ok("dyn.alpha", {"delay_ms": 700})
    t.ok(d.wait_status(slow, ("running",), 10), "a slow task runs")
    t.is_(control(d, "remove", "alpha"), 0, "capability_remove")
    t.is_(caps(d), ["dyn.control", "dyn.pipe"], "no longer listed")
    st, _, body = d.submit("dyn.alpha", {"delay_ms": 0})
    t.ok((st, t.error_code(body)) in ((404, "unknown_capability"),
                                       (422, "no_provider")),
         "a new task for it is refused (%s %s)" % (st, t.error_code(body)))
    t.is_(d.wait_task(slow).get("status"), "succeeded",
          "the running task still finished")
    t.is_(control(d, "remove", "alpha"), -5, "removing it again: NOTFOUND")

    t.diag("queued while absent, served when it comes back")
    t.is_(control(d, "add", "beta"), 0, "add beta")
    busy = [d.submit_ok("dyn.beta", {"delay_ms": 600}) for _ in range(4)]
    queued = d.submit_ok("dyn.beta", {"delay_ms": 0}, timeout_ms=20000)
    t.ok(all(d.wait_status(b, ("running",), 10) for b in busy),
         "four tasks fill beta's concurrency")
    t.is_(d.task(queued).get("status"), "queued", "a fifth one waits")
    t.is_(control(d, "remove", "beta"), 0, "beta withdrawn")
    t.is_(control(d, "add", "beta"), 0, "and declared again")
    t.is_(d.wait_task(queued).get("status"), "succeeded",
          "the queued task ran on the new declaration")
    t.ok(all(d.wait_task(b).get("status") == "succeeded" for b in busy),
         "the earlier ones finished on the withdrawn one")

    orphan_src = d.submit_ok("dyn.beta", {"delay_ms": 500})
    orphan = d.submit_ok("dyn.beta", {"delay_ms": 0}, timeout_ms=800)
    for _ in range(3):
        d.submit_ok("dyn.beta", {"delay_ms": 500})
    t.is_(control(d, "remove", "beta"), 0, "beta withdrawn for good")
    fin = d.wait_task(orphan, timeout=15)
    t.ok(fin.get("status") in ("failed", "succeeded"),
         "a task queued behind it ends (%s)" % fin.get("status"))
    if fin.get("status") == "failed":
        t.is_((fin.get("error") or {}).get("code"), "no_provider",
              "with no_provider at its timeout")
    t.is_(d.wait_task(orphan_src).get("status"), "succeeded",
          "the running one finished")

    t.diag("fd watches")
    tid = d.submit_ok("dyn.pipe", {"text": "through the loop"})
    t.is_(d.wait_task(tid).get("result"),
          {"text": "through the loop", "stale_stop": -2},
          "io_start read the pipe; a stale io_stop is MCPD_E_HANDLE")

    t.diag("a reload retires the generation with its run-time capabilities")
    t.is_(control(d, "add", "gamma"), 0, "add gamma")
    hold = d.submit_ok("dyn.gamma", {"delay_ms": 800})
    t.ok(d.wait_status(hold, ("running",), 10), "gamma runs")
    t.is_(control(d, "remove", "gamma"), 0, "gamma withdrawn while running")
    os.utime(os.path.join(pdir, "dynamic.so"), ns=(2_000_000_000_000_000_000,) * 2)
    st, _, body = d.reload(wait=True)
    t.is_((st, body.get("status")), (200, "ok"), "reload")
    t.is_(d.wait_task(hold).get("status"), "succeeded",
          "the withdrawn capability's task finished on the old generation")
    t.ok(t.wait_until(lambda: len(d.plugin_records("dynamic")) == 1, 10),
         "the old generation retired")
    t.is_(caps(d), ["dyn.control", "dyn.pipe"],
          "the new generation starts from its init declarations")
    d.stop()
    t.done_testing()


if __name__ == "__main__":
    main()
