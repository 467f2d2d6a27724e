#!/usr/bin/env python3
# mcpd-test: no-valgrind (every step but code.generate runs its tools in
# sandbox-ns children, whose clone() namespaces and seccomp valgrind cannot
# follow; the plugins' own tests cover them under ASan)
"""The five code agents (issue 6) end to end through MCP, from a real
client: tests/mcp-clients/clients/agents.mjs, the official TypeScript SDK
1.x (@modelcontextprotocol/sdk) over Streamable HTTP to /mcp, makes only
tools/call requests, and this test checks the structuredContent of each:

  code.generate  a function with its tests, template backend (Python:
                 mathutil.add with a pytest test; C: clamp() with a TAP
                 test and a Makefile)
  code.test      the generated files: exact per-test names and outcomes,
                 coverage per file
  code.analyze   them: analyzer statuses, findings, SARIF 2.1.0, metrics
  security.scan  them: analyzer statuses, exact findings, SARIF 2.1.0
  code.refactor  them: a token-aware rename (Python and C, across the
                 module, header and test), then clang-format (C); the exact
                 diff lines, the occurrences, the refactor's own
                 verification (compile + the tests through code.test)
  code.test      the refactored files: the same outcomes as before

The SDK also checks every structuredContent against the tool's
outputSchema from tools/list (a mismatch rejects the call). Over REST the
MCP calls are real persisted tasks: listed by capability, each with the
result the client got, still there after a restart of the daemon.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
import time

import mcpdtest as t
import sandboxtest as sb

SRC = t.env("MCPD_SOURCE_DIR")
PLUGIN_DIR = t.env("MCPD_PLUGIN_DIR")
CLIENTS = os.path.join(SRC, "tests", "mcp-clients")
NODE = os.path.join(CLIENTS, "node_modules", ".bin", "node")
SCRIPT = os.path.join(CLIENTS, "clients", "agents.mjs")
PLUGINS = ("sandbox-ns", "codegen", "testing", "analysis", "security",
           "refactor")
TOOLS = ["code.analyze", "code.generate", "code.refactor", "code.test",
         "code.test.generate", "sandbox.exec", "security.check_command",
         "security.scan"]
# The client's wait for all its calls (a loaded machine is slow; the
# whole chain takes some 5 s on an idle one).
CLIENT_TIMEOUT = 240.0

MiB = 1 << 20
LIMITS = {"wall_ms": 120000, "cpu_ms": 120000, "memory_bytes": 1024 * MiB,
          "pids": 256, "output_bytes": 1 * MiB, "file_bytes": 64 * MiB}

SPEC = {
    "chains": [
        {"label": "py",
         "generate": {"language": "python", "name": "mathutil",
                      "signature": "def add(a: int, b: int) -> int",
                      "description": "Add two integers.",
                      "backend": "template"},
         "test": {"language": "python", "coverage": True},
         "refactor": [{"operation": "rename", "language": "python",
                       "old_name": "add", "new_name": "add_numbers",
                       "tests": {"framework": "pytest"}}]},
        {"label": "c",
         "generate": {"language": "c", "name": "clamp",
                      "signature": "int clamp(int value, int low, "
                                   "int high)",
                      "description": "Clamp value to [low, high].",
                      "backend": "template"},
         "test": {"language": "c", "coverage": True},
         "refactor": [{"operation": "rename", "language": "c",
                       "old_name": "clamp", "new_name": "clamp_int",
                       "tests": {"framework": "make"}},
                      {"operation": "format", "language": "c",
                       "style": "LLVM", "tests": {"framework": "make"}}]},
    ],
    "calls": [
        {"event": "bad.refactor", "name": "code.refactor",
         "arguments": {"operation": "rename",
                       "files": {"m.py": "def f():\n    return 1\n"},
                       "old_name": "g", "new_name": "h"}},
    ],
}

# Which tool each step calls, and its order in the chain.
STEP_TOOL = {"generate": "code.generate", "test": "code.test",
             "analyze": "code.analyze", "scan": "security.scan",
             "refactor.0": "code.refactor", "refactor.1": "code.refactor",
             "retest": "code.test"}


# ---------------------------------------------------------------- helpers

def lines(text, n):
    """Line n (1-based) of text, or None."""
    ls = (text or "").split("\n")
    return ls[n - 1] if 0 < n <= len(ls) else None


def changes(diff):
    """The lines of a unified diff that are not context."""
    return [ln for ln in (diff or "").split("\n")
            if ln[:1] in ("-", "+", "@")]


def outcomes(r):
    return [(x.get("name"), x.get("outcome")) for x in r.get("tests") or []]


def summary(r):
    s = r.get("summary") or {}
    return tuple(s.get(k) for k in ("total", "passed", "failed", "skipped",
                                    "errors"))


def statuses(r):
    return [(a.get("name"), a.get("status")) for a in r.get("analyzers")
            or []]


def findings(r):
    return [(f.get("tool"), f.get("rule"), f.get("file"), f.get("line"))
            for f in r.get("findings") or []]


def sarif(r):
    s = r.get("sarif") or {}
    return (s.get("version"),
            [x.get("tool", {}).get("driver", {}).get("name")
             for x in s.get("runs") or []])


def functions(r, path):
    f = ((r.get("metrics") or {}).get("files") or {}).get(path) or {}
    return [(x.get("name"), x.get("line"), x.get("end_line"),
             x.get("parameters"), x.get("complexity"))
            for x in f.get("functions") or []]


def occurrences(r):
    return [(o.get("file"), o.get("line"), o.get("column"))
            for o in r.get("occurrences") or []]


def verification(r):
    v = r.get("verification") or {}
    tests = v.get("tests") or {}
    after = tests.get("after") or {}
    return ([(c.get("language"), c.get("tool"), c.get("status"))
             for c in v.get("compile") or []],
            tests.get("status"), summary(after), after.get("failing"))


# ---------------------------------------------------------------- client

class Client:
    """agents.mjs as a child; its JSON lines arrive on a queue."""

    def __init__(self, url, spec):
        self.err = os.path.join(t.tempdir(), "node-stderr.log")
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [NODE, SCRIPT, "--url", url, "--spec", json.dumps(spec)],
                stdout=subprocess.PIPE, stderr=err,
                stdin=subprocess.DEVNULL, cwd=CLIENTS)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.q.put({"event": "garbage",
                            "line": line.decode("utf-8", "replace")})
        self.q.put(None)

    def events(self):
        """Every line up to "done" (or the end), by event name."""
        got = {}
        deadline = time.monotonic() + CLIENT_TIMEOUT * t.SLOW
        while True:
            try:
                m = self.q.get(timeout=max(0.1,
                                           deadline - time.monotonic()))
            except queue.Empty:
                t.diag("the client did not finish within %.0f s"
                       % CLIENT_TIMEOUT)
                return got
            if m is None:
                return got
            if m.get("event") in ("error", "garbage"):
                t.diag("client: %r" % m)
            got[m.get("event")] = m
            if m.get("event") == "done":
                return got

    def finish(self):
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if rc != 0:
            with open(self.err, "rb") as f:
                t.diag(f.read().decode("utf-8", "replace")[-3000:])
        return rc


def step(ev, key, name):
    """The structuredContent of a step that succeeded ({} otherwise,
    reported)."""
    m = ev.get(key) or {}
    good = m.get("isError") is False and isinstance(m.get("structured"),
                                                    dict)
    if not t.ok(good, "%s: the call succeeded with structuredContent"
                % name):
        t.diag("    %s: %r" % (key, {k: m.get(k) for k in
                                   ("isError", "rejected", "message",
                                    "text", "task")} if m else
                                "no such step (an earlier one failed)"))
        return {}
    return m["structured"]


# ---------------------------------------------------------------- checks

def check_python(ev):
    g = step(ev, "py.generate", "python: code.generate")
    files = g.get("files") or {}
    t.is_((g.get("backend"), g.get("language"), sorted(files)),
          ("template", "python", ["mathutil.py", "test_mathutil.py"]),
          "python: the template backend wrote the module and its pytest test")
    t.is_((lines(files.get("mathutil.py"), 4),
           lines(files.get("mathutil.py"), 9),
           lines(files.get("test_mathutil.py"), 3),
           lines(files.get("test_mathutil.py"), 6)),
          ("def add(a: int, b: int) -> int:", "    return 0",
           "from mathutil import add", "def test_add_runs():"),
          "python: the def as given, returning 0; the test imports it")

    r = step(ev, "py.test", "python: code.test")
    t.is_((r.get("framework"), r.get("report"), r.get("exit_code"),
           r.get("passed")), ("pytest", "junit", 0, True),
          "python: pytest detected, read from its JUnit report, passed")
    t.is_(outcomes(r), [("test_mathutil.test_add_runs", "passed")],
          "python: the exact test and its outcome")
    t.is_(summary(r), (1, 1, 0, 0, 0), "python: summary 1 run, 1 passed")
    cov = r.get("coverage") or {}
    t.is_((cov.get("tool"), cov.get("status"),
           (cov.get("files") or {}).get("mathutil.py")),
          ("python3-coverage", "ran",
           {"lines": 2, "covered": 2, "percent": 100, "missing": []}),
          "python: coverage of mathutil.py: 2 of 2 statements")
    before = r

    a = step(ev, "py.analyze", "python: code.analyze")
    t.is_(statuses(a), [("pyflakes", "ran"), ("python-metrics", "ran")],
          "python: analyzers pyflakes and python-metrics ran")
    t.is_((findings(a), sarif(a)), ([], ("2.1.0", ["pyflakes"])),
          "python: no findings; a SARIF 2.1.0 log with pyflakes' run")
    t.is_((functions(a, "mathutil.py"), functions(a, "test_mathutil.py")),
          ([("add", 4, 9, 2, 1)], [("test_add_runs", 6, 9, 0, 1)]),
          "python: metrics: each function's lines, parameters, complexity")

    s = step(ev, "py.scan", "python: security.scan")
    t.is_(statuses(s), [("bandit", "ran"), ("flawfinder", "skipped"),
                        ("cppcheck", "skipped"), ("mcpd-secrets", "ran")],
          "python: bandit and the secret detector ran; the C tools skipped")
    t.is_((findings(s), sarif(s)),
          ([("bandit", "B101", "test_mathutil.py", 9)],
           ("2.1.0", ["bandit", "mcpd-secrets"])),
          "python: the one finding is bandit's B101 (the test's assert), "
          "in SARIF 2.1.0")

    f = step(ev, "py.refactor.0", "python: code.refactor rename")
    new = f.get("files") or {}
    t.is_((f.get("renamed"), occurrences(f), f.get("changed")),
          (3, [("mathutil.py", 4, 5), ("test_mathutil.py", 3, 22),
               ("test_mathutil.py", 8, 14)],
           ["mathutil.py", "test_mathutil.py"]),
          "python: add renamed at its def, import and call")
    t.is_(changes(f.get("diff")), [
        "--- a/mathutil.py", "+++ b/mathutil.py", "@@ -1,7 +1,7 @@",
        "-def add(a: int, b: int) -> int:",
        "+def add_numbers(a: int, b: int) -> int:",
        "--- a/test_mathutil.py", "+++ b/test_mathutil.py",
        "@@ -1,9 +1,9 @@",
        "-from mathutil import add", "+from mathutil import add_numbers",
        "-    result = add(0, 0)", "+    result = add_numbers(0, 0)"],
        "python: the exact diff lines")
    t.is_((lines(new.get("mathutil.py"), 1),
           lines(new.get("test_mathutil.py"), 1),
           lines(new.get("test_mathutil.py"), 6)),
          ('"""mathutil: add()."""', '"""Tests of mathutil.add (pytest)."""',
           "def test_add_runs():"),
          "python: token-aware: docstrings and test_add_runs left alone")
    t.is_(verification(f),
          ([("python", "python3", "passed")], "passed", (1, 1, 0, 0, 0), []),
          "python: the rename's verification: py_compile and pytest passed")

    r = step(ev, "py.retest", "python: code.test after the refactor")
    t.is_((r.get("framework"), outcomes(r), summary(r), r.get("passed")),
          (before.get("framework"), outcomes(before), summary(before), True),
          "python: the same test outcomes after the refactor")
    t.is_((r.get("coverage") or {}).get("files"),
          (before.get("coverage") or {}).get("files"),
          "python: the same coverage after the refactor")


def check_c(ev):
    g = step(ev, "c.generate", "c: code.generate")
    files = g.get("files") or {}
    t.is_((g.get("backend"), g.get("language"), sorted(files)),
          ("template", "c", ["Makefile", "clamp.c", "clamp.h",
                             "test_clamp.c"]),
          "c: the template backend wrote header, source, TAP test, Makefile")
    t.is_((lines(files.get("clamp.h"), 10), lines(files.get("clamp.c"), 6),
           lines(files.get("test_clamp.c"), 23)),
          ("int clamp(int value, int low, int high);",
           "int clamp(int value, int low, int high)",
           "\tint result = clamp(0, 0, 0);"),
          "c: the prototype as given; the test calls it")

    r = step(ev, "c.test", "c: code.test")
    t.is_((r.get("framework"), r.get("report"), r.get("exit_code"),
           r.get("passed")), ("make", "tap", 0, True),
          "c: make test detected, read as TAP, passed")
    t.is_(outcomes(r), [("clamp(0, 0, 0) returns", "passed")],
          "c: the exact test and its outcome")
    t.is_(summary(r), (1, 1, 0, 0, 0), "c: summary 1 run, 1 passed")
    cov = r.get("coverage") or {}
    cf = cov.get("files") or {}
    t.is_((cov.get("tool"), cov.get("status"), cf.get("clamp.c"),
           (cf.get("test_clamp.c") or {}).get("missing")),
          ("gcov", "ran",
           {"lines": 5, "covered": 5, "percent": 100, "missing": []}, [15]),
          "c: gcov: clamp.c fully covered; test_clamp.c misses line 15 "
          "(the failure count)")
    before = r

    a = step(ev, "c.analyze", "c: code.analyze")
    t.is_(statuses(a), [("cppcheck", "ran"), ("clang-tidy", "ran"),
                        ("c-metrics", "ran")],
          "c: analyzers cppcheck, clang-tidy and c-metrics ran")
    t.is_((findings(a), sarif(a)[0]), ([], "2.1.0"),
          "c: no findings; a SARIF 2.1.0 log")
    t.is_((functions(a, "clamp.c"), functions(a, "test_clamp.c")),
          ([("clamp", 6, 13, 3, 1)],
           [("ok", 11, 17, 2, 3), ("main", 19, 27, 0, 1)]),
          "c: metrics: each function's lines, parameters, complexity")
    t.is_([(x.get("path")) for x in a.get("ignored") or []], ["Makefile"],
          "c: the Makefile is ignored (not C)")

    s = step(ev, "c.scan", "c: security.scan")
    t.is_(statuses(s), [("bandit", "skipped"), ("flawfinder", "ran"),
                        ("cppcheck", "ran"), ("mcpd-secrets", "ran")],
          "c: flawfinder, cppcheck and the secret detector ran; bandit "
          "skipped")
    t.is_((findings(s), sarif(s)[0]),
          ([("flawfinder", "FF1016", "test_clamp.c", 16),
            ("flawfinder", "FF1016", "test_clamp.c", 21)], "2.1.0"),
          "c: flawfinder's FF1016 (printf) at test_clamp.c:16 and :21, in "
          "SARIF 2.1.0")

    f = step(ev, "c.refactor.0", "c: code.refactor rename")
    new = f.get("files") or {}
    t.is_((f.get("renamed"), occurrences(f), f.get("changed")),
          (3, [("clamp.c", 6, 5), ("clamp.h", 10, 5),
               ("test_clamp.c", 23, 15)],
           ["clamp.c", "clamp.h", "test_clamp.c"]),
          "c: clamp renamed in the header, the source and the test")
    t.is_(changes(f.get("diff")), [
        "--- a/clamp.c", "+++ b/clamp.c", "@@ -3,7 +3,7 @@",
        "-int clamp(int value, int low, int high)",
        "+int clamp_int(int value, int low, int high)",
        "--- a/clamp.h", "+++ b/clamp.h", "@@ -7,6 +7,6 @@",
        "-int clamp(int value, int low, int high);",
        "+int clamp_int(int value, int low, int high);",
        "--- a/test_clamp.c", "+++ b/test_clamp.c", "@@ -20,7 +20,7 @@",
        "-\tint result = clamp(0, 0, 0);",
        "+\tint result = clamp_int(0, 0, 0);"],
        "c: the exact diff lines")
    t.is_((lines(new.get("test_clamp.c"), 25), lines(new.get("clamp.h"), 4),
           lines(new.get("clamp.c"), 2)),
          ('\tok(1, "clamp(0, 0, 0) returns");', "#ifndef CLAMP_H",
           " * clamp.c -- clamp()."),
          "c: token-aware: the string, the include guard and comments left "
          "alone")
    t.is_(verification(f),
          ([("c", "gcc", "passed")], "passed", (1, 1, 0, 0, 0), []),
          "c: the rename's verification: gcc and make test passed")

    f = step(ev, "c.refactor.1", "c: code.refactor format")
    fmt = f.get("files") or {}
    t.is_(([(x.get("name"), x.get("files")) for x in f.get("tools") or []],
           f.get("changed")),
          ([("clang-format", ["clamp.c", "clamp.h", "test_clamp.c"])],
           ["clamp.c", "test_clamp.c"]),
          "c: clang-format ran on the three C files, two changed")
    d = changes(f.get("diff"))
    t.is_(d[:17], [
        "--- a/clamp.c", "+++ b/clamp.c", "@@ -3,11 +3,10 @@",
        "-int clamp_int(int value, int low, int high)", "-{",
        "-\t(void)value;", "-\t(void)low;", "-\t(void)high;",
        "-\t/* Scaffold: the implementation goes here. */", "-\treturn 0;",
        "+int clamp_int(int value, int low, int high) {",
        "+  (void)value;", "+  (void)low;", "+  (void)high;",
        "+  /* Scaffold: the implementation goes here. */", "+  return 0;",
        "--- a/test_clamp.c"], "c: the exact diff lines of clamp.c (LLVM)")
    t.is_([x for x in d if x[:1] == "@" or x[:1] == "+" and x.endswith("{")],
          ["@@ -3,11 +3,10 @@",
           "+int clamp_int(int value, int low, int high) {",
           "@@ -8,20 +8,18 @@",
           "+static void ok(int cond, const char *what) {",
           "+int main(void) {"],
          "c: test_clamp.c's hunk; braces joined to the definitions")
    t.is_([p for p in sorted(fmt) if p.endswith((".c", ".h")) and
           "\n\t" in fmt[p]], [],
          "c: no C file is indented with tabs any more")
    t.is_(verification(f),
          ([("c", "gcc", "passed")], "passed", (1, 1, 0, 0, 0), []),
          "c: the format's verification: gcc and make test passed")

    r = step(ev, "c.retest", "c: code.test after the refactors")
    t.is_((r.get("framework"), outcomes(r), summary(r), r.get("passed")),
          (before.get("framework"), outcomes(before), summary(before), True),
          "c: the same test outcomes after the refactors")
    cf = (r.get("coverage") or {}).get("files") or {}
    t.is_((cf.get("clamp.c"), (cf.get("test_clamp.c") or {}).get("missing")),
          ({"lines": 5, "covered": 5, "percent": 100, "missing": []}, [14]),
          "c: the same coverage; the uncovered line moved to 14 with the "
          "brace")


def check_bad_input(ev):
    m = ev.get("bad.refactor") or {}
    t.ok(m.get("isError") is True and
         m.get("structured") is None and
         (m.get("task") or {}).get("status") == "failed",
         "bad input: the call is an error result, its task failed") \
        or t.diag(m)
    t.like(m.get("text"), "failed: bad_input: old_name: \"g\" does not "
           "occur", "bad input: the text names the code and the field")


def check_rest(d, ev):
    """The calls are tasks in the daemon's store."""
    ids = {}
    for label in ("py", "c"):
        for s, tool in STEP_TOOL.items():
            m = ev.get("%s.%s" % (label, s))
            if m and (m.get("task") or {}).get("id"):
                ids["%s.%s" % (label, s)] = (tool, m["task"]["id"],
                                             m.get("structured"))
    t.is_(len(ids), 13, "every step names its task in _meta")

    st, _, body = d.get("/v1/tasks?capability=code.test&limit=100")
    listed = sorted(x.get("id") for x in (body or {}).get("tasks", [])) \
        if st == 200 and isinstance(body, dict) else None
    want = sorted(v[1] for v in ids.values() if v[0] == "code.test")
    t.is_((listed, len(want)), (want, 4),
          "GET /v1/tasks?capability=code.test lists exactly the 4 code.test "
          "calls (the refactors' in-process test runs are no tasks)")

    bad = []
    for key, (tool, tid, structured) in sorted(ids.items()):
        task = d.task(tid)
        got = (task.get("capability"), task.get("status"),
               task.get("result") == structured)
        if got != (tool, "succeeded", True):
            bad.append((key, got))
    t.is_(bad, [], "GET /v1/tasks/{id}: each step is a succeeded task of "
          "its tool with the result the client got")

    d.restart()
    key = "c.retest"
    tool, tid, structured = ids.get(key, (None, "0" * 32, None))
    task = d.task(tid)
    t.is_((task.get("capability"), task.get("status"),
           task.get("result") == structured and structured is not None),
          ("code.test", "succeeded", True),
          "after a restart the last code.test task is still there, result "
          "and all")


# ---------------------------------------------------------------- main

def plugin_dir():
    """A private plugin dir with what this test needs (others' plugins in
    the build dir, half-built or not, do not disturb it)."""
    d = t.tempdir("mcpd-agents-plugins-")
    missing = []
    for name in PLUGINS:
        p = os.path.join(PLUGIN_DIR, name + ".so")
        if os.path.exists(p):
            shutil.copy(p, d)
        else:
            missing.append(name)
    return d, missing


def config():
    blk = sb.driver_block(defaults=dict(LIMITS), max=dict(LIMITS),
                          run_dir=sb.run_dir())
    # A C build and test may take longer than the default 60 s task
    # timeout on a loaded machine.
    return {"workers": 4, "drain_timeout_ms": 2000,
            "default_timeout_ms": 180000,
            "plugins": {"sandbox-ns": blk},
            "services": {"sandbox": "sandbox-ns"}}


def main():
    t.plan(66)
    absent = [p for p in (NODE, os.path.join(CLIENTS, "node_modules",
                                             "@modelcontextprotocol", "sdk"))
              if not os.path.exists(p)]
    if not t.ok(not absent, "the npm MCP client is installed"):
        t.diag("missing: %s; run `npm ci` in %s (./dev test does)"
               % (", ".join(absent), CLIENTS))
        t.done_testing()
    pdir, missing = plugin_dir()
    if not t.is_(missing, [], "the sandbox and the five agent plugins are "
                 "built"):
        t.done_testing()

    d = t.Daemon(plugin_dirs=[pdir], config=config())
    client = Client("http://%s:%d/mcp" % (t.HOST, d.port), SPEC)
    ev = client.events()
    m = ev.get("connected") or {}
    t.is_((m.get("server"), m.get("version")), ("mcpd", "2025-11-25"),
          "the SDK 1.x client connected to mcpd over Streamable HTTP")
    tools = (ev.get("tools") or {}).get("tools") or []
    t.is_(([x.get("name") for x in tools],
           [x.get("name") for x in tools if not x.get("has_output_schema")]),
          (TOOLS, []), "tools/list: the agents' tools, each with an "
          "outputSchema")

    check_python(ev)
    check_c(ev)
    check_bad_input(ev)
    t.ok("done" in ev, "the client made every call")
    t.is_(client.finish(), 0, "the client exits 0")
    check_rest(d, ev)
    t.is_(d.stop(check=False), 0, "the daemon exits 0 after SIGTERM")
    t.done_testing()


main()
