"""The reload soak, shared by tests/e2e/test_reload_soak.py (a few seconds,
in the suite) and bench/reload_soak.py (30 s and more).

Load generators keep submitting echo and sleep tasks on keep-alive
connections while the swapper replaces echo.so and sleep.so (1.0.0 and
2.0.0 builds, alternately) and sends SIGHUP every `period` seconds. At the
end every acknowledged task must have succeeded, and no request may have
had a 5xx answer or a connection error.
"""

import http.client
import json
import os
import random
import shutil
import signal
import threading
import time

import mcpdtest as t


class Generator(threading.Thread):
    def __init__(self, port, stop, seed):
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.rng = random.Random(seed)
        self.ids = []
        self.codes = {}
        self.conn_errors = 0
        self.errors = []

    def run(self):
        conn = None
        while not self.stop.is_set():
            if self.rng.random() < 0.5:
                body = {"capability": "echo", "input": {"n": len(self.ids)}}
            else:
                body = {"capability": "sleep",
                        "input": {"ms": self.rng.randint(5, 30)},
                        "timeout_ms": 30000}
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(t.HOST, self.port,
                                                      timeout=30 * t.SLOW)
                conn.request("POST", "/v1/tasks", body=json.dumps(body),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException) as e:
                self.conn_errors += 1
                self.errors.append(repr(e))
                conn = None
                continue
            self.codes[r.status] = self.codes.get(r.status, 0) + 1
            if r.status == 201:
                self.ids.append(json.loads(raw)["id"])
            elif len(self.errors) < 5:
                self.errors.append("%d %s" % (r.status, raw[:200]))
            time.sleep(0.005)
        if conn:
            conn.close()


def run(seconds, period=0.2, generators=4):
    """Run the soak; returns a dict of counts (and emits no TAP)."""
    plugins = t.env("MCPD_PLUGIN_DIR")
    v2 = os.path.join(t.env("MCPD_TEST_PLUGIN_DIR"), "v2")
    work = t.tempdir()
    pdir = os.path.join(work, "plugins")
    os.mkdir(pdir)
    for name in ("echo.so", "sleep.so"):
        shutil.copyfile(os.path.join(plugins, name), os.path.join(pdir, name))
    # Enough workers that sleep keeps up with the generators: the soak is
    # about reloads, not about back-pressure (429 would still be no error).
    d = t.Daemon(plugin_dirs=[pdir], config={"workers": 8,
                                             "default_concurrency": 8,
                                             "drain_timeout_ms": 10000})
    stop = threading.Event()
    gens = [Generator(d.port, stop, i) for i in range(generators)]
    for g in gens:
        g.start()
    swaps = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        src = v2 if swaps % 2 == 0 else plugins
        for name in ("echo.so", "sleep.so"):
            t.replace_file(os.path.join(src, name), os.path.join(pdir, name))
        os.kill(d.proc.pid, signal.SIGHUP)
        swaps += 1
        time.sleep(period)
    stop.set()
    for g in gens:
        g.join(60 * t.SLOW)

    ids = [i for g in gens for i in g.ids]
    outcomes = {}
    for tid in ids:
        fin = d.wait_task(tid, timeout=60)
        st = fin.get("status", "missing")
        outcomes[st] = outcomes.get(st, 0) + 1
    codes = {}
    for g in gens:
        for k, v in g.codes.items():
            codes[k] = codes.get(k, 0) + v

    def count(name):
        return int(d.metric(name) or 0)

    t.wait_until(lambda: count('mcpd_plugins{state="draining"}') == 0,
                 15)
    res = {
        "seconds": seconds,
        "swaps": swaps,
        "reloads": count("mcpd_reloads_total"),
        "reload_failures": count("mcpd_reload_failures_total"),
        "generations_retired": count("mcpd_plugin_drains_total"),
        "drain_timeouts": count("mcpd_plugin_drain_timeouts_total"),
        "still_draining": count('mcpd_plugins{state="draining"}'),
        "requests": sum(codes.values()),
        "status_codes": codes,
        "acknowledged": len(ids),
        "outcomes": outcomes,
        "connection_errors": sum(g.conn_errors for g in gens),
        "first_errors": [e for g in gens for e in g.errors][:5],
    }
    res["exit_code"] = d.stop()
    return res
