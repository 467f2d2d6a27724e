#!/usr/bin/env python3
"""ABI 1.1 on a live daemon: service interfaces (by name, by the config's
default, wrong major, a held reference keeping an old generation alive
across a reload), host timers (a loop handler finished from a timer; a
retiring generation's pending timer removed), and the drain timeout
sending tasks back through their retry policy."""

import os
import shutil

import mcpdtest as t

PLUGINS = t.env("MCPD_PLUGIN_DIR")
TEST_PLUGINS = t.env("MCPD_TEST_PLUGIN_DIR")


def touch(path, i):
    os.utime(path, ns=(1_000_000_000 * (2000 + i),) * 2)


def plugin(d, name, status):
    _, _, body = d.get("/v1/plugins")
    for p in body.get("plugins", []):
        if p.get("name") == name and p.get("status") == status:
            return p
    return None


def failure(d, tid):
    fin = d.wait_task(tid, timeout=15)
    return fin.get("status"), (fin.get("error") or {}).get("code"), \
        (fin.get("error") or {}).get("message", "")


def main():
    work = t.tempdir()
    pdir = os.path.join(work, "plugins")
    os.mkdir(pdir)
    for name in ("svc_provider.so", "svc_consumer.so", "timer.so"):
        shutil.copyfile(os.path.join(TEST_PLUGINS, name),
                        os.path.join(pdir, name))
    shutil.copyfile(os.path.join(PLUGINS, "sleep.so"),
                    os.path.join(pdir, "sleep.so"))
    cfg = {"drain_timeout_ms": 400}
    d = t.Daemon(plugin_dirs=[pdir], config=cfg)

    t.diag("services")
    tid = d.submit_ok("greet", {})
    t.is_(d.wait_task(tid).get("result"), {"text": "hello, mcpd"},
          "the consumer called the default provider")
    t.is_(plugin(d, "svc_provider", "loaded").get("services"), ["greeter"],
          "/v1/plugins lists the service")
    tid = d.submit_ok("greet", {"provider": "svc_provider"})
    t.is_(d.wait_task(tid).get("status"), "succeeded", "by provider name")
    st, code, msg = failure(d, d.submit_ok("greet", {"provider": "nope"}))
    t.is_((st, code, msg), ("failed", "service", "not found"),
          "an unknown provider is not found")
    st, code, msg = failure(d, d.submit_ok("greet", {"major": 2}))
    t.is_((st, msg), ("failed", "not allowed in this state"),
          "another major version is refused")
    cfg["services"] = {"greeter": "sleep"}
    d.set_config(cfg)
    t.is_(d.reload()[0], 200, "services.greeter names a plugin without it")
    st, code, msg = failure(d, d.submit_ok("greet", {}))
    t.is_((st, msg), ("failed", "not found"),
          "the configured default is honoured (and does not provide it)")
    cfg["services"] = {"greeter": "svc_provider"}
    d.set_config(cfg)
    d.reload()
    t.is_(d.wait_task(d.submit_ok("greet", {})).get("status"), "succeeded",
          "the configured default provides it")

    held = d.submit_ok("greet", {"hold_ms": 1500})
    t.ok(d.wait_status(held, ("running",), 10), "a consumer holds the service")
    touch(os.path.join(pdir, "svc_provider.so"), 1)
    st, _, body = d.reload()
    t.is_([x.get("name") for x in body.get("retiring", [])],
          ["svc_provider"], "the provider was replaced")
    old = plugin(d, "svc_provider", "draining")
    t.ok(old and old.get("waiting_on", {}).get("service_refs") == 1,
         "its old generation waits on one service reference")
    t.ok(t.wait_until(lambda: (plugin(d, "svc_provider", "draining") or {})
                      .get("waiting_on", {}).get("drain_timeout_passed"), 5),
         "past the drain timeout it still waits: a reference is never "
         "taken away")
    t.is_(d.wait_task(held, timeout=10).get("result"),
          {"text": "hello, mcpd"}, "the holder finished on the old one")
    t.ok(t.wait_until(lambda: plugin(d, "svc_provider", "draining") is None,
                      5), "and then it was retired")

    t.diag("timers")
    tid = d.submit_ok("timer.wait", {"ms": 50})
    t.is_(d.wait_task(tid).get("result"), {"fired": True},
          "a loop handler finished from a host timer")
    stuck = d.submit_ok("timer.wait", {"never": True}, retries=0,
                        timeout_ms=60000)
    t.ok(d.wait_status(stuck, ("running",), 10), "a timer task that waits")
    touch(os.path.join(pdir, "timer.so"), 2)
    d.reload()
    st, code, msg = failure(d, stuck)
    t.is_((st, code), ("failed", "reload_drain"),
          "the drain timeout failed it (no retries left)")
    t.ok(t.wait_until(lambda: plugin(d, "timer", "draining") is None, 5),
         "its generation was retired with the timer still pending")
    tid = d.submit_ok("timer.wait", {"ms": 10})
    t.is_(d.wait_task(tid).get("status"), "succeeded", "the new one works")

    t.diag("drain timeout and retries")
    long_id = d.submit_ok("sleep", {"ms": 3000}, retries=1)
    t.ok(d.wait_status(long_id, ("running",), 10), "a long sleep runs")
    touch(os.path.join(pdir, "sleep.so"), 3)
    d.reload()
    fin = d.wait_task(long_id, timeout=15)
    t.is_((fin.get("status"), fin.get("attempts")), ("succeeded", 2),
          "requeued by the drain timeout, it succeeded on its retry")
    _, _, evs, _ = d.events(long_id)
    codes = [e["data"].get("error", {}).get("code") for e in evs
             if isinstance(e.get("data"), dict)]
    t.ok("reload_drain" in codes, "its events say why it was retried")
    _, _, body = d.get("/metrics")
    t.like(body, "mcpd_plugin_drain_timeouts_total 3",
           "three drain timeouts were counted")
    t.is_(d.stop(), 0, "stops cleanly")
    t.done_testing()


if __name__ == "__main__":
    main()
