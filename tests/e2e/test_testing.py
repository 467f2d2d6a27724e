#!/usr/bin/env python3
# mcpd-test: no-valgrind (every code.test run starts the sandbox-ns
# namespace and seccomp children, which valgrind cannot follow; the
# plugin's own code runs under ASan in the sanitizer build)
"""code.test and code.test.generate (issue 6, plugins/testing) through the
running daemon's REST API, with the real tools in the sandbox:

- the fixture projects (tests/fixtures/projects: one passing and one
  failing test in each of c-make, c-cmake, python, shell) give their exact
  per-test names, outcomes and failure messages under make, ctest, pytest,
  unittest and prove, detected from the files or named;
- coverage numbers per file: gcov for make and ctest, python3-coverage for
  pytest and unittest;
- the parsers on edge cases: TAP (TODO, SKIP, YAML message, escaped '#',
  missing numbers, plan mismatches, Bail out!, skip-all, several streams),
  prove with several files, bats, JUnit XML (failure, error, skipped,
  notrun, CDATA, entities, system-out, malformed), unittest (error, skip,
  expected failure, docstrings);
- a build that fails, a run that times out, bad input, a missing tool;
- code.test.generate through code.generate when the codegen plugin is
  built.
"""

import os
import shutil

import mcpdtest as t
import sandboxtest as sb

MiB = 1 << 20
FIX = os.path.join(t.env("MCPD_SOURCE_DIR"), "tests", "fixtures",
                   "projects")
LIMITS = {"wall_ms": 120000, "cpu_ms": 120000, "memory_bytes": 1024 * MiB,
          "pids": 256, "output_bytes": 1 * MiB, "file_bytes": 64 * MiB}


def config():
    blk = sb.driver_block(defaults=dict(LIMITS), max=dict(LIMITS),
                          run_dir=sb.run_dir())
    return {"workers": 6, "drain_timeout_ms": 2000,
            "plugins": {"sandbox-ns": blk,
                        "testing": {"allowed_paths": [FIX]}},
            "services": {"sandbox": "sandbox-ns"}}


def fixture_files(name):
    """A fixture project as an inline files object."""
    root = os.path.join(FIX, name)
    out = {}
    for base, _, names in os.walk(root):
        for n in names:
            p = os.path.join(base, n)
            with open(p) as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


class Runs:
    """Submit every task first, then collect: the runs overlap."""

    def __init__(self, d):
        self.d = d
        self.ids = {}

    def submit(self, key, inp, capability="code.test"):
        self.ids[key] = self.d.submit_ok(capability, inp, timeout_ms=240000)

    def get(self, key, timeout=240):
        tid = self.ids.get(key)
        return self.d.wait_task(tid, timeout) if tid else {}


def result(task, name):
    if not t.ok(task.get("status") == "succeeded",
                "%s: the task succeeded" % name):
        t.diag("    status %r error %r" % (task.get("status"),
                                           task.get("error")))
        r = task.get("result") or {}
        t.diag("    stdout %r" % (r.get("stdout"),))
    r = task.get("result")
    return r if isinstance(r, dict) else {}


def outcomes(r, keys=("name", "outcome", "message")):
    return [tuple(x.get(k) for k in keys) for x in r.get("tests") or []]


def summary(r):
    s = r.get("summary") or {}
    return tuple(s.get(k) for k in ("total", "passed", "failed", "skipped",
                                    "errors"))


def check_failing_fixture(r, name, framework, report, expected, exit_code):
    t.is_((r.get("framework"), r.get("report")), (framework, report),
          "%s: framework %s, report %s" % (name, framework, report))
    t.is_(outcomes(r), expected, "%s: exact per-test outcomes" % name)
    t.is_(summary(r), (2, 1, 1, 0, 0), "%s: summary 2 total, 1 passed, "
          "1 failed" % name)
    t.is_((r.get("exit_code"), r.get("passed"), r.get("stage")),
          (exit_code, False, "test"),
          "%s: exit %d, not passed" % (name, exit_code))


# ---------------------------------------------------------------- inputs

TAP_EDGES = r"""TAP version 13
1..7
ok 1 - first
not ok 2 - second # TODO not done yet
ok 3 - third # SKIP no network
not ok 4 - fourth
  ---
  message: 'values differ'
  duration_ms: 12.5
  ...
ok 5 - escaped \# hash
ok
ok 7 - passing todo # todo fixed already
1..3
ok 1 - a
ok 2 - b
1..2
ok 1 - before bail
Bail out! database gone
1..0 # SKIP no python here
"""

TAP_EXPECTED = [
    ("first", "passed", None),
    ("second", "skipped", "TODO: not done yet"),
    ("third", "skipped", "no network"),
    ("fourth", "failed", "values differ"),
    ("escaped # hash", "passed", None),
    ("test 6", "passed", None),
    ("passing todo", "passed", "TODO: fixed already"),
    ("a", "passed", None),
    ("b", "passed", None),
    ("plan", "error", "planned 3 tests but ran 2"),
    ("before bail", "passed", None),
    ("Bail out!", "error", "database gone"),
    ("all tests skipped", "skipped", "no python here"),
]

PROVE_FILES = {
    "t/a.t": "#!/bin/sh\necho 1..2\necho 'ok 1 - one'\n"
             "echo 'not ok 2 - two'\necho '# two went wrong' >&2\n",
    "t/short.t": "#!/bin/sh\necho 1..3\necho 'ok 1 - x'\necho 'ok 2 - y'\n",
    "t/skip.t": "#!/bin/sh\necho '1..0 # SKIP no database'\n",
}

PROVE_EXPECTED = [
    ("t/a.t: one", "passed", None),
    ("t/a.t: two", "failed", "two went wrong"),
    ("t/short.t: x", "passed", None),
    ("t/short.t: y", "passed", None),
    ("t/short.t: plan", "error", "planned 3 tests but ran 2"),
    ("t/skip.t: all tests", "skipped", "no database"),
]

BATS = """#!/usr/bin/env bats
@test "adds" {
  [ "$((1 + 1))" -eq 2 ]
}
@test "fails" {
  [ 1 -eq 2 ]
}
@test "skips" {
  skip "not today"
}
"""

JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
 <testsuite name="suite-a" tests="6">
  <testcase classname="pkg.Mod" name="test_ok" time="0.25"/>
  <testcase classname="pkg.Mod" name="test_fail" time="1.5"><failure
    message="expected 1 &lt; 0">trace line 1
trace line 2</failure></testcase>
  <testcase classname="pkg.Mod" name="test_error"><error
    type="RuntimeError">boom
at line 3</error></testcase>
  <testcase classname="pkg.Mod" name="test_skip"><skipped
    message="needs network"/></testcase>
  <testcase classname="pkg.Mod" name="test_xfail"><skipped
    type="pytest.xfail" message="known bug"/></testcase>
  <testcase name="lonely" classname="lonely" status="notrun"/>
 </testsuite>
 <testsuite name="suite-b">
  <testcase name="with_output" classname=""><failure/><system-out>first
second</system-out></testcase>
  <testcase name="cdata"><failure><![CDATA[x < y & z]]></failure></testcase>
 </testsuite>
</testsuites>
"""

JUNIT_EXPECTED = [
    ("pkg.Mod.test_ok", "passed", None, 250.0),
    ("pkg.Mod.test_fail", "failed", "expected 1 < 0", 1500.0),
    ("pkg.Mod.test_error", "error", "boom", None),
    ("pkg.Mod.test_skip", "skipped", "needs network", None),
    ("pkg.Mod.test_xfail", "skipped", "known bug", None),
    ("lonely", "skipped", None, None),
    ("with_output", "failed", "first", None),
    ("cdata", "failed", "x < y & z", None),
]

UNITTEST_EDGES = '''import unittest


class T(unittest.TestCase):
    def test_doc(self):
        """Has a docstring."""
        self.assertTrue(True)

    def test_error(self):
        raise RuntimeError("boom")

    @unittest.skip("not now")
    def test_skip(self):
        pass

    @unittest.expectedFailure
    def test_xfail(self):
        self.assertEqual(1, 2)
'''

UNITTEST_EXPECTED = [
    ("test_edge.T.test_doc", "passed", None),
    ("test_edge.T.test_error", "error", "RuntimeError: boom"),
    ("test_edge.T.test_skip", "skipped", "not now"),
    ("test_edge.T.test_xfail", "skipped", "expected failure"),
]

BROKEN_CMAKE = {
    "CMakeLists.txt": "cmake_minimum_required(VERSION 3.13)\n"
                      "project(broken C)\nenable_testing()\n"
                      "add_executable(t t.c)\nadd_test(NAME t COMMAND t)\n",
    "t.c": "int main(void)\n{\n\treturn undeclared;\n}\n",
}

BAD_TASKS = [
    ("no project", {}, "files, path"),
    ("both files and path", {"files": {"a": "b"}, "path": FIX},
     "files, path"),
    ("path outside allowed_paths", {"path": "/etc"}, "path:"),
    ("relative path", {"path": "projects/python"}, "path:"),
    ("missing path", {"path": FIX + "/nosuch"}, "path:"),
    ("file path with ..", {"files": {"../x.py": "x"}}, "files:"),
    ("nothing to detect", {"files": {"README": "hello\n"}}, "framework:"),
    ("custom without command",
     {"files": {"a": "b"}, "framework": "custom"}, "command:"),
    ("junit_path outside", {"files": {"a": "b"}, "command": "true",
                            "junit_path": "../r.xml"}, "junit_path:"),
]

BAD_SUBMITS = [
    ("unknown framework", {"files": {"a": "b"}, "framework": "nose"}),
    ("zero wall_ms", {"files": {"a": "b"}, "command": "true",
                      "limits": {"wall_ms": 0}}),
    ("unknown limit", {"files": {"a": "b"}, "command": "true",
                       "limits": {"disk": 5}}),
    ("files not strings", {"files": {"a": 5}}),
    ("unknown field", {"files": {"a": "b"}, "nope": 1}),
]


# ---------------------------------------------------------------- checks

def fixtures(runs):
    r = result(runs.get("c-make"), "c-make")
    check_failing_fixture(r, "c-make (make, detected, from path)", "make",
                          "tap",
                          [("calc_add adds", "passed", None),
                           ("calc_floor_div rounds down", "failed",
                            "got -3, expected -4")], 2)
    t.is_(r.get("command"), "make test", "c-make: the command is make test")

    r = result(runs.get("c-cmake"), "c-cmake")
    check_failing_fixture(r, "c-cmake (ctest, detected, inline)", "ctest",
                          "junit",
                          [("calc_add", "passed", None),
                           ("calc_floor_div", "failed",
                            "calc_floor_div(-7, 2) = -3, expected -4")], 8)
    t.ok(all(isinstance(x.get("duration_ms"), (int, float)) and
             x["duration_ms"] >= 0 for x in r.get("tests") or [{}]),
         "c-cmake: every test has a duration from the JUnit report")
    t.like(r.get("build_command") or "", "cmake -S . -B _mcpd_build",
           "c-cmake: the build command is reported")

    py = [("tests.test_calc.CalcTest.test_add", "passed", None),
          ("tests.test_calc.CalcTest.test_mean", "failed",
           "AssertionError: 1 != 1.5")]
    r = result(runs.get("python"), "python")
    check_failing_fixture(r, "python (pytest, detected)", "pytest", "junit",
                          py, 1)
    mean = [x for x in r.get("tests") or [] if x.get("outcome") == "failed"]
    t.like(mean[0].get("details") if mean else "",
           "tests/test_calc.py:11: AssertionError",
           "python: the failure's traceback names test_calc.py:11")
    r = result(runs.get("python-unittest"), "python-unittest")
    check_failing_fixture(r, "python (unittest, named)", "unittest",
                          "unittest", py, 1)
    t.is_(r.get("command"), "python3 -m unittest discover -v",
          "python-unittest: the command")

    r = result(runs.get("shell"), "shell")
    check_failing_fixture(r, "shell (prove, detected)", "prove", "tap",
                          [("t/calc.t: add 2 3 prints 5", "passed", None),
                           ("t/calc.t: div by zero is refused", "failed",
                            "exit 2")], 1)


def coverage(runs):
    calc_c = {"lines": 6, "covered": 4, "percent": 66.67, "missing": [8, 10]}
    for key, tool in (("c-make-cov", "gcov"), ("c-cmake-cov", "gcov")):
        r = result(runs.get(key), key)
        cov = r.get("coverage") or {}
        t.is_((cov.get("status"), cov.get("tool")), ("ran", tool),
              "%s: coverage ran with %s" % (key, tool))
        t.is_((cov.get("files") or {}).get("calc.c"), calc_c,
              "%s: calc.c: 4 of 6 lines, calc_mul's lines 8 and 10 missed"
              % key)
        t.ok(not any(f.startswith("/") for f in cov.get("files") or {}),
             "%s: no system headers, paths relative" % key)
    r = result(runs.get("c-make-cov"), "c-make-cov")
    t.is_((r.get("coverage") or {}).get("totals"),
          {"lines": 20, "covered": 18, "percent": 90.0},
          "c-make-cov: totals over calc.c and test_calc.c")
    t.is_(outcomes(r)[1:], [("calc_floor_div rounds down", "failed",
                             "got -3, expected -4")],
          "c-make-cov: the tests still report with coverage on")

    calc_py = {"lines": 6, "covered": 5, "percent": 83.33, "missing": [11]}
    for key in ("python-cov", "python-unittest-cov"):
        r = result(runs.get(key), key)
        cov = r.get("coverage") or {}
        t.is_((cov.get("status"), cov.get("tool")),
              ("ran", "python3-coverage"), "%s: coverage ran" % key)
        t.is_((cov.get("files") or {}).get("calc.py"), calc_py,
              "%s: calc.py: 5 of 6 statements, the raise on line 11 missed"
              % key)
        t.is_(sorted(cov.get("files") or {}),
              ["calc.py", "tests/__init__.py", "tests/test_calc.py"],
              "%s: only the project's files are measured" % key)
    r = result(runs.get("prove-cov"), "prove-cov")
    t.is_((r.get("coverage") or {}).get("status"), "skipped",
          "prove with coverage: coverage skipped, with a reason")


def parsers(runs):
    r = result(runs.get("tap-edges"), "tap-edges")
    t.is_(outcomes(r), TAP_EXPECTED, "TAP edge cases: exact outcomes")
    t.is_(summary(r), (13, 7, 1, 3, 2), "TAP edge cases: summary")
    t.is_((r.get("exit_code"), r.get("passed"), r.get("report")),
          (0, False, "tap"), "TAP edge cases: exit 0 but not passed")
    tests = r.get("tests") or []
    t.is_([x.get("todo") for x in tests[:7]],
          [None, True, None, None, None, None, True],
          "TAP: TODO tests are marked todo")
    t.is_(tests[3].get("duration_ms") if len(tests) > 3 else None, 12.5,
          "TAP: duration_ms from the YAML block")
    t.is_([x.get("number") for x in tests[:7]], [1, 2, 3, 4, 5, None, 7],
          "TAP: test numbers kept, absent when the line has none")

    r = result(runs.get("prove-edges"), "prove-edges")
    t.is_(outcomes(r), PROVE_EXPECTED,
          "prove: three files, diagnostics, short plan, skip-all")
    t.is_((r.get("exit_code"), r.get("passed")), (1, False),
          "prove: exit 1, not passed")

    r = result(runs.get("bats"), "bats")
    t.is_((r.get("framework"), outcomes(r)),
          ("bats", [("adds", "passed", None),
                    ("fails", "failed",
                     "(in test file ./a.bats, line 6)\n`[ 1 -eq 2 ]' "
                     "failed"),
                    ("skips", "skipped", "not today")]),
          "bats (detected from *.bats): exact outcomes")

    r = result(runs.get("junit-edges"), "junit-edges")
    t.is_(outcomes(r, ("name", "outcome", "message", "duration_ms")),
          JUNIT_EXPECTED, "JUnit edge cases: exact outcomes")
    t.is_(summary(r), (8, 1, 3, 3, 1), "JUnit edge cases: summary")
    tests = r.get("tests") or [{}, {}]
    t.is_(tests[1].get("details"), "trace line 1\ntrace line 2",
          "JUnit: the failure text is kept as details")
    t.is_((r.get("report"), r.get("passed")), ("junit", False),
          "JUnit edge cases: report junit, not passed")

    r = result(runs.get("junit-bad"), "junit-bad")
    t.is_((r.get("tests"), r.get("report")), ([], "none"),
          "malformed JUnit: no tests")
    t.like(r.get("report_error"), "does not parse",
           "malformed JUnit: the report error says so")
    r = result(runs.get("junit-html"), "junit-html")
    t.like(r.get("report_error"), "not JUnit XML",
           "XML without testsuite: not JUnit XML")
    r = result(runs.get("junit-missing"), "junit-missing")
    t.like(r.get("report_error"), "no file at junit_path",
           "junit_path never written: said so")

    r = result(runs.get("unittest-edges"), "unittest-edges")
    t.is_(outcomes(r), UNITTEST_EXPECTED,
          "unittest: docstring, error, skip, expected failure")
    t.is_(summary(r), (4, 1, 0, 2, 1), "unittest edge cases: summary")


def failures(runs):
    r = result(runs.get("broken-build"), "broken-build")
    t.is_((r.get("stage"), r.get("passed"), r.get("tests")),
          ("build", False, []), "a C build error: stage build, no tests")
    t.ok(isinstance(r.get("exit_code"), int) and r.get("exit_code") != 0,
         "a C build error: a non-zero exit code (%r)" % r.get("exit_code"))
    t.like(r.get("stdout", "") + r.get("stderr", ""), "undeclared",
           "a C build error: the compiler's message is in the output")

    r = result(runs.get("timeout"), "timeout")
    t.is_((r.get("killed_by"), r.get("exit_code"), r.get("passed")),
          ("timeout", None, False), "a run past wall_ms: killed by timeout")

    r = result(runs.get("passing"), "passing")
    t.is_((r.get("passed"), summary(r), r.get("exit_code")),
          (True, (1, 1, 0, 0, 0), 0), "a passing custom TAP command passes")


def bad_input(d, runs):
    for name, inp, field in BAD_TASKS:
        task = runs.get("bad:" + name, 30)
        err = task.get("error") or {}
        t.is_((task.get("status"), err.get("code")), ("failed", "bad_input"),
              "bad input: %s fails with bad_input" % name)
        t.like(err.get("message"), field,
               "bad input: %s: the message names %s" % (name, field))
    for name, inp in BAD_SUBMITS:
        t.is_error(d.submit("code.test", inp), 422, "invalid_input",
                   "schema: %s is refused at submit" % name)

    task = runs.get("nose2", 30)
    err = task.get("error") or {}
    if shutil.which("nose2", path="/usr/local/bin:/usr/bin:/bin"):
        t.ok(True, "# SKIP nose2 is installed here")
        t.ok(True, "# SKIP nose2 is installed here")
    else:
        t.is_((task.get("status"), err.get("code")),
              ("failed", "tool_missing"),
              "a command whose tool is missing: tool_missing")
        t.like(err.get("message"), "nose2 is not installed on this host",
               "tool_missing names the tool")
        t.like(err.get("message"), "apt-get install python3-nose2",
               "tool_missing gives the install hint")


def generate(d):
    if not d.serving("codegen"):
        t.ok(True, "# SKIP the codegen plugin is not built")
        return
    tid = d.submit_ok("code.test.generate",
                      {"language": "python",
                       "functions": [{"name": "add",
                                      "signature": "def add(a, b)"}],
                       "files": {"add.py": "def add(a, b):\n"
                                           "    return a + b\n"}},
                      timeout_ms=60000)
    task = d.wait_task(tid, 60)
    r = result(task, "code.test.generate")
    files = r.get("files") or {}
    t.is_((r.get("backend"), r.get("language"),
           [f.get("name") for f in r.get("functions") or []]),
          ("template", "python", ["add"]),
          "code.test.generate: template backend, one function")
    t.ok(any(p.endswith(".py") and "add" in p for p in files),
         "code.test.generate: a Python test file for add (%r)"
         % sorted(files))
    # A C skeleton (TAP test + Makefile) for a function in add.c, built
    # and run by code.test against the code: they compile and pass.
    code = {"add.h": "int add(int a, int b);\n",
            "add.c": "#include \"add.h\"\n"
                     "int add(int a, int b) { return a + b; }\n"}
    tid = d.submit_ok("code.test.generate",
                      {"language": "c", "files": code,
                       "functions": [{"name": "add",
                                      "signature": "int add(int a, int b)"}]},
                      timeout_ms=60000)
    r = result(d.wait_task(tid, 60), "code.test.generate (c)")
    files = r.get("files") or {}
    t.ok(any(p.endswith(".c") for p in files),
         "code.test.generate (c): a C test file (%r)" % sorted(files))
    proj = dict(code)
    proj.update(files)
    tid = d.submit_ok("code.test", {"files": proj, "language": "c"},
                      timeout_ms=120000)
    r2 = result(d.wait_task(tid, 120), "generated C tests run")
    s = summary(r2)
    t.ok(r2.get("passed") is True and s[0] >= 1 and s[0] == s[1],
         "generated C tests compile and pass under %s (%r)"
         % (r2.get("framework"), s))
    # code.test in process (agent.h): code.generate's refine loop calls it.
    tid = d.submit_ok("code.generate",
                      {"language": "c", "name": "add",
                       "signature": "int add(int a, int b)",
                       "backend": "template",
                       "refine": {"max_iterations": 1}}, timeout_ms=120000)
    r = result(d.wait_task(tid, 120), "code.generate with refine")
    it = (r.get("iterations") or [{}])[0].get("test") or {}
    t.is_((it.get("framework"), it.get("command"), summary(it),
           it.get("passed")),
          ("make", "make test", (1, 1, 0, 0, 0), True),
          "refine ran code.test in process: make test, 1 of 1 passed")
    st, _, body = d.submit("code.test.generate",
                           {"language": "python", "functions": []})
    t.is_(st, 422, "code.test.generate: an empty function list is refused")


def main():
    d = t.Daemon(config=config())
    if not d.serving("testing") or "ns" not in sb.loaded_drivers(d):
        t.skip_all("the testing plugin or sandbox-ns is not loaded (%r)"
                   % d.plugin_records("testing"))
    runs = Runs(d)
    runs.submit("c-make", {"path": os.path.join(FIX, "c-make")})
    runs.submit("c-cmake", {"files": fixture_files("c-cmake")})
    runs.submit("python", {"path": os.path.join(FIX, "python")})
    runs.submit("python-unittest", {"path": os.path.join(FIX, "python"),
                                    "framework": "unittest"})
    runs.submit("shell", {"path": os.path.join(FIX, "shell")})
    runs.submit("c-make-cov", {"path": os.path.join(FIX, "c-make"),
                               "coverage": True})
    runs.submit("c-cmake-cov", {"path": os.path.join(FIX, "c-cmake"),
                                "coverage": True})
    runs.submit("python-cov", {"path": os.path.join(FIX, "python"),
                               "coverage": True})
    runs.submit("python-unittest-cov", {"path": os.path.join(FIX, "python"),
                                        "framework": "unittest",
                                        "coverage": True})
    runs.submit("prove-cov", {"path": os.path.join(FIX, "shell"),
                              "coverage": True})
    runs.submit("tap-edges", {"files": {"tap.txt": TAP_EDGES},
                              "command": "cat tap.txt"})
    runs.submit("prove-edges", {"files": PROVE_FILES})
    runs.submit("bats", {"files": {"a.bats": BATS}})
    runs.submit("junit-edges", {"files": {"r.xml": JUNIT},
                                "command": "echo done",
                                "junit_path": "r.xml"})
    runs.submit("junit-bad", {"files": {"r.xml": "<testsuite><testcase>"},
                              "command": "true", "junit_path": "r.xml"})
    runs.submit("junit-html", {"files": {"r.xml": "<html/>"},
                               "command": "true", "junit_path": "r.xml"})
    runs.submit("junit-missing", {"files": {"a": "b"}, "command": "true",
                                  "junit_path": "out/r.xml"})
    runs.submit("unittest-edges", {"files": {"test_edge.py": UNITTEST_EDGES},
                                   "framework": "unittest"})
    runs.submit("broken-build", {"files": BROKEN_CMAKE})
    runs.submit("timeout", {"files": {"a": "b"}, "command": "sleep 30",
                            "limits": {"wall_ms": 1500}})
    runs.submit("passing", {"files": {"a": "b"},
                            "command": "echo 1..1; echo ok 1 - fine"})
    for name, inp, _ in BAD_TASKS:
        runs.submit("bad:" + name, inp)
    runs.submit("nose2", {"files": {"a": "b"}, "command": "nose2 -v"})

    fixtures(runs)
    coverage(runs)
    parsers(runs)
    failures(runs)
    bad_input(d, runs)
    generate(d)
    d.stop()
    t.done_testing()


if __name__ == "__main__":
    main()
