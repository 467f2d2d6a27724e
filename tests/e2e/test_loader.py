#!/usr/bin/env python3
"""The loader against real broken plugins (tests/plugins): each is refused
with a reason that says why, the good ones load, and the daemon is
healthy."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import Daemon, diag, done_testing, env, is_, like, ok

# file -> words its refusal reason must contain
REFUSED = {
    "bad_major.so": "major",
    "newer_minor.so": "minor",
    "no_symbol.so": "mcpd_plugin_v1",
    "init_fails.so": "init",
    "dup_cap.so": "dup.cap",
    "bad_schema.so": "schema",
    "dup_name.so": "duplicate",
    "small_desc.so": "too small",
}
# plugin name -> capabilities it declares
LOADED = {
    "echo": ["echo"],
    "sleep": ["sleep"],
    "flaky": ["flaky"],
    "garbage": ["garbage", "garbage.blocking"],
}
# capabilities of refused plugins, which must not be served
NOT_SERVED = ("dup.cap", "bad_schema.cap", "dup_name.echo", "small_desc.cap")
# lines the refused plugins log if the host wrongly called their init
NEVER_LOGGED = ("init of an ABI 2 plugin was called",
                "init of a newer-minor plugin was called",
                "init read past the descriptor's size")


def main():
    bundled, tests = env("MCPD_PLUGIN_DIR"), env("MCPD_TEST_PLUGIN_DIR")
    d = Daemon(plugin_dirs=[bundled, tests])
    st, _, body = d.get("/v1/plugins")
    is_(st, 200, "GET /v1/plugins")
    plugins = body.get("plugins", []) if isinstance(body, dict) else []
    by_file = {}
    for p in plugins:
        by_file.setdefault(os.path.basename(p.get("file") or ""), []).append(p)

    for f, words in sorted(REFUSED.items()):
        entries = by_file.get(f, [])
        is_(len(entries), 1, "%s is listed once" % f)
        p = entries[0] if entries else {}
        is_(p.get("status"), "refused", "%s is refused" % f)
        like(p.get("reason") or "", words,
             "%s: the reason says %r (%r)" % (f, words, p.get("reason")))
        is_(p.get("file"), os.path.join(tests, f),
            "%s: the listing names the scanned file" % f)
        ok(not p.get("capabilities"), "%s: declares no capabilities" % f)

    like((by_file.get("bad_major.so") or [{}])[0].get("reason") or "", "2",
         "bad_major: the reason names major 2")
    is_((by_file.get("dup_name.so") or [{}])[0].get("name"), "echo",
        "dup_name is listed under the name it claims")

    for name, caps in sorted(LOADED.items()):
        p = [x for x in plugins if x.get("name") == name
             and x.get("status") == "loaded"]
        is_(len(p), 1, "%s is loaded once" % name)
        p = p[0] if p else {}
        is_(sorted(p.get("capabilities") or []), caps,
            "%s declares %s" % (name, caps))
        ok(p.get("reason") in (None, ""), "%s has no refusal reason" % name)
        ok(isinstance(p.get("loaded_at"), str), "%s has loaded_at" % name)
    echo = [x for x in plugins if x.get("name") == "echo"
            and x.get("status") == "loaded"]
    is_(echo and os.path.dirname(echo[0].get("file") or ""), bundled,
        "the bundled echo (first directory) wins the name")
    ok(plugins and all((x.get("file") or "").endswith(".so")
                       for x in plugins), "only .so files are listed")
    ok(all(x.get("status") == "loaded" or x.get("reason") for x in plugins),
       "every refused plugin has a reason")

    st, _, body = d.get("/v1/capabilities")
    names = [c.get("name") for c in body.get("capabilities", [])] \
        if isinstance(body, dict) else []
    for cap in NOT_SERVED:
        ok(cap not in names, "%s (refused plugin) is not served" % cap)
    for caps in LOADED.values():
        for cap in caps:
            ok(cap in names, "%s is served" % cap)

    tid = d.submit_ok("echo", {"who": "bundled"})
    t = d.wait_task(tid, 10)
    is_((t.get("status"), t.get("provider")), ("succeeded", "echo"),
        "echo tasks go to the bundled plugin")
    is_(t.get("result"), {"who": "bundled"}, "...which echoes")

    log = d.log_text()
    for line in NEVER_LOGGED:
        ok(line not in log, "the host never ran an init it must not run: "
           + line)
    ok("init_fails: refusing to load" in log,
       "init_fails's own log line is in the daemon log")

    st, _, text = d.get("/metrics")
    text = text if isinstance(text, str) else ""
    for state in ("loaded", "refused"):
        m = re.search(r'^mcpd_plugins\{state="%s"\} (\d+)' % state, text,
                      re.M)
        is_(m and int(m.group(1)),
            len([x for x in plugins if x.get("status") == state]),
            "metrics count %s plugins as the listing does" % state)

    st, _, body = d.get("/healthz")
    is_((st, body), (200, {"status": "ok"}), "the daemon is healthy")
    st, _, _ = d.get("/readyz")
    is_(st, 200, "and ready")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")

    diag("bundled directory only, then test directory first")
    d = Daemon(plugin_dirs=[tests, bundled])
    _, _, body = d.get("/v1/plugins")
    plugins = body.get("plugins", []) if isinstance(body, dict) else []
    echo = [x for x in plugins if x.get("name") == "echo"]
    got = sorted((os.path.basename(x.get("file") or ""), x.get("status"))
                 for x in echo)
    is_(got, [("dup_name.so", "loaded"), ("echo.so", "refused")],
        "with the test directory first, its echo wins and the bundled one "
        "is the duplicate")
    is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")
    done_testing()


main()
