#!/usr/bin/env python3
# mcpd-test: no-valgrind (every tool runs through the sandbox drivers,
# whose namespace and pidfd calls valgrind cannot follow; the plugin's
# own code was checked under valgrind with the tools failing, and runs
# here plain and under ASan)
"""code.analyze (plugins/analysis) through the running daemon's REST API:
the defect fixtures (tests/fixtures/defects) analysed inline and from a
directory, with the exact rule, file and line each tool reports; SARIF
2.1.0 structure; C and Python metrics (lines, functions, cyclomatic
complexity) on sources with known values; files found by #! line;
bad input refused with bad_input naming the field; a missing or disabled
tool reported as a skipped analyzer with its install hint; no sandbox
driver reported as such; a tool stopped by the sandbox's time limit.
"""

import os
import shutil

import mcpdtest as t
import sandboxtest as sb

FIX = os.path.join(t.env("MCPD_SOURCE_DIR"), "tests", "fixtures", "defects")
CAP = "code.analyze"
HAVE_CLANG_TIDY = bool(shutil.which("clang-tidy", path="/usr/local/bin:"
                                    "/usr/bin:/bin"))

# A C file with known metrics: 40 lines (33 code, 2 comment-only, 5
# blank); classify: 1 + if, &&, else-if, ||, for, case, case, ?:, while,
# do-while = 11 (the if and && in the comment and the string do not
# count); a directive, a struct, an initializer, an enum and a prototype
# are no functions.
C_METRICS = r"""/* header */
#include <stdio.h>
#define MAX(a, b) ((a) > (b) ? (a) : (b)) /* not counted */

struct point { int x, y; };
static const struct point origin = { 0, 0 };
enum color { RED, GREEN = (1 << 2) };

static int classify(int n, const char *s)
{
	// a comment with if and && inside
	const char *t = "if (x && y) { }";
	if (n < 0 && s)
		return -1;
	else if (n == 0 || !s)
		return 0;
	for (int i = 0; i < n; i++) {
		switch (s[i]) {
		case 'a':
		case '}':
			break;
		default:
			n = n > 3 ? 3 : n;
		}
	}
	while (n--)
		;
	do { n++; } while (n < 2);
	return t[0] == '{';
}

int (*handler(void))(int);

void
empty(void) {}

int __attribute__((unused)) attr_fn(int a, int b, int c)
{
	return a + b + c;
}
"""
C_FUNCTIONS = [
    {"name": "classify", "line": 9, "end_line": 30, "lines": 22,
     "parameters": 2, "complexity": 11},
    {"name": "empty", "line": 35, "end_line": 35, "lines": 1,
     "parameters": 0, "complexity": 1},
    {"name": "attr_fn", "line": 37, "end_line": 40, "lines": 4,
     "parameters": 3, "complexity": 1},
]

# A Python file with known metrics: 32 lines (26 code, 1 comment, 5
# blank). grade: 1 + if, or, and, elif, for, while, except, except,
# ternary = 10; Box.items: 1 + a comprehension's for and two ifs = 4;
# Box.fetch: 1 + the lambda's or = 2 (the nested inner counts apart: 2).
PY_METRICS = '''"""Known metrics: see test_analysis.py."""
import asyncio

# a comment line

def grade(score, bonus=0, *rest, **kw):
    if score < 0 or score > 100 and not bonus:
        raise ValueError(score)
    elif score >= 90:
        return "A"
    for b in rest:
        while b > 0:
            b -= 1
    try:
        pass
    except KeyError:
        pass
    except (TypeError, ValueError):
        pass
    return "B" if score > 50 else "C"


class Box:
    def items(self, xs):
        return [x for x in xs if x if x > 1]

    async def fetch(self):
        def inner(y):
            return y and y
        f = lambda z: z or 0
        await asyncio.sleep(0)
        return inner(f(1))
'''
PY_FUNCTIONS = [
    {"name": "grade", "line": 6, "end_line": 20, "lines": 15,
     "parameters": 4, "complexity": 10},
    {"name": "Box.items", "line": 24, "end_line": 25, "lines": 2,
     "parameters": 2, "complexity": 4},
    {"name": "Box.fetch", "line": 27, "end_line": 32, "lines": 6,
     "parameters": 1, "complexity": 2},
    {"name": "Box.fetch.inner", "line": 28, "end_line": 29, "lines": 2,
     "parameters": 1, "complexity": 2},
]

# What the tools find in the fixtures: (tool, rule, file, line, column).
EXPECTED = [
    ("cppcheck", "nullPointer", "c/nullderef.c", 26, 2),
    ("cppcheck", "arrayIndexOutOfBounds", "c/overflow.c", 13, 7),
    ("cppcheck", "bufferAccessOutOfBounds", "c/overflow.c", 22, 9),
    ("pyflakes", "UnusedImport", "python/unused_import.py", 5, 1),
    ("shellcheck", "SC2086", "shell/unquoted.sh", 7, 8),
]
EXPECTED_CLANG_TIDY = [
    ("clang-tidy", "clang-analyzer-core.NullDereference", "c/nullderef.c",
     26, 14),
    ("clang-tidy", "clang-analyzer-security.insecureAPI.strcpy",
     "c/overflow.c", 22, 2),
    ("clang-tidy", "clang-diagnostic-fortify-source", "c/overflow.c", 22, 2),
]


def fixture_files(sub=""):
    out = {}
    base = os.path.join(FIX, sub)
    for root, dirs, names in os.walk(base):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for n in names:
            p = os.path.join(root, n)
            with open(p) as f:
                out[os.path.relpath(p, base)] = f.read()
    return out


def analyze(d, inp, timeout=90):
    """Run code.analyze to its end -> the final task ({} if none)."""
    tid = d.submit_ok(CAP, inp)
    return d.wait_task(tid, timeout) if tid else {}


def result(task, name):
    """The task succeeded -> its result ({} and a failed test if not)."""
    if not t.ok(task.get("status") == "succeeded", name + ": succeeds"):
        t.diag("    status %r error %r" % (task.get("status"),
                                           task.get("error")))
        return {}
    return task.get("result") or {}


def failed_with(task, code, part, name):
    err = task.get("error") or {}
    if not t.ok(task.get("status") == "failed" and err.get("code") == code,
                "%s: fails with %s" % (name, code)):
        t.diag("    status %r error %r" % (task.get("status"), err))
        return
    t.like(err.get("message"), part, "%s: the message says %r" % (name, part))


def keys(findings, tools=None):
    return sorted((f["tool"], f["rule"], f["file"], f["line"], f["column"])
                  for f in findings if tools is None or f["tool"] in tools)


def status_of(r):
    return {a["name"]: a for a in r.get("analyzers", [])}


def test_capability(d):
    st, _, body = d.get("/v1/capabilities")
    caps = {c.get("name"): c for c in body.get("capabilities", [])} \
        if st == 200 and isinstance(body, dict) else {}
    provs = (caps.get(CAP) or {}).get("providers") or [{}]
    t.is_(provs[0].get("plugin"), "analysis",
          "code.analyze is offered by the analysis plugin")
    attrs = provs[0].get("attributes") or {}
    t.is_(attrs.get("languages"), ["c", "cpp", "python", "shell"],
          "attributes name the languages")


def test_fixtures_inline(d):
    files = fixture_files()
    r = result(analyze(d, {"files": files}), "the defect fixtures inline")
    if not r:
        return r
    want = sorted(EXPECTED + (EXPECTED_CLANG_TIDY if HAVE_CLANG_TIDY
                              else []))
    t.is_(keys(r["findings"]), want,
          "exactly the known defects, each at its rule, file, line, column")
    by = {(f["tool"], f["rule"], f["file"], f["line"]): f
          for f in r["findings"]}
    f = by.get(("cppcheck", "nullPointer", "c/nullderef.c", 26), {})
    t.is_((f.get("severity"), f.get("message")),
          ("error", "Null pointer dereference: head"),
          "cppcheck nullPointer: severity error and cppcheck's message")
    f = by.get(("shellcheck", "SC2086", "shell/unquoted.sh", 7), {})
    t.is_(f.get("severity"), "note", "shellcheck's info level is a note")
    f = by.get(("pyflakes", "UnusedImport", "python/unused_import.py", 5), {})
    t.is_((f.get("severity"), f.get("message")),
          ("warning", "'os' imported but unused"),
          "pyflakes UnusedImport: a warning with pyflakes' message")

    st = status_of(r)
    names = ["cppcheck", "clang-tidy", "c-metrics", "pyflakes",
             "python-metrics", "shellcheck"]
    t.is_([a["name"] for a in r["analyzers"]], names,
          "every analyzer for C, Python and shell is reported, in order")
    t.is_({n: st[n]["status"] for n in names if n != "clang-tidy"},
          {n: "ran" for n in names if n != "clang-tidy"},
          "cppcheck, pyflakes, shellcheck and both metrics ran")
    t.is_((st["cppcheck"]["files"], st["cppcheck"]["findings"],
           st["pyflakes"]["files"], st["shellcheck"]["files"]), (2, 3, 3, 1),
          "per analyzer: files given and findings made")
    t.is_(r["ignored"], [{"path": "README.md", "reason":
                          "not C, C++, Python or shell by its name or #! "
                          "line"}], "README.md is ignored, and said so")
    t.is_(r["summary"]["files"], 6, "six source files analysed")
    t.is_(r["summary"]["findings"], len(r["findings"]),
          "summary counts the findings")
    m = r["metrics"]["files"]
    t.is_(sorted(m), sorted(k for k in files if k.endswith((".c", ".py"))),
          "metrics for every C and Python file")
    t.is_([(x["name"], x["line"], x["complexity"])
           for x in m.get("c/nullderef.c", {}).get("functions", [])],
          [("sum", 11, 2), ("main", 22, 1)],
          "c/nullderef.c: functions sum (line 11, complexity 2), main")
    return r


def test_sarif(r):
    s = r.get("sarif") or {}
    t.is_((s.get("version"), s.get("$schema")),
          ("2.1.0", "https://json.schemastore.org/sarif-2.1.0.json"),
          "SARIF: version 2.1.0 and its schema")
    runs = s.get("runs") or []
    names = [run["tool"]["driver"]["name"] for run in runs]
    want = ["cppcheck"] + (["clang-tidy"] if HAVE_CLANG_TIDY else []) + \
        ["pyflakes", "shellcheck"]
    t.is_(names, want, "SARIF: one run per tool that reports findings")
    good = True
    n = 0
    for run in runs:
        rules = run["tool"]["driver"].get("rules", [])
        for res in run.get("results", []):
            n += 1
            loc = res["locations"][0]["physicalLocation"]
            good &= rules[res["ruleIndex"]]["id"] == res["ruleId"] and \
                loc["region"]["startLine"] > 0 and \
                res["level"] in ("error", "warning", "note") and \
                bool(res["message"]["text"])
    t.ok(good and n == len(r["findings"]),
         "SARIF: every finding is a result with ruleId, its rule's index, "
         "level, message and region.startLine (%d)" % n)
    cpp = runs[0] if runs else {}
    got = sorted((x["ruleId"],
                  x["locations"][0]["physicalLocation"]["artifactLocation"]
                  ["uri"],
                  x["locations"][0]["physicalLocation"]["region"]
                  ["startLine"]) for x in cpp.get("results", []))
    t.is_(got, [("arrayIndexOutOfBounds", "c/overflow.c", 13),
                ("bufferAccessOutOfBounds", "c/overflow.c", 22),
                ("nullPointer", "c/nullderef.c", 26)],
          "SARIF cppcheck run: ruleId, artifact uri and startLine")


def test_directory(d, inline, scratch):
    r = result(analyze(d, {"path": FIX}), "the fixture directory by path")
    if r:
        t.is_(keys(r["findings"]), keys(inline.get("findings", [])),
              "a directory gives the same findings as its files inline")
        t.is_(r["ignored"], [], "README.md is passed over without a word")
    r = result(analyze(d, {"path": os.path.join(FIX, "c"),
                           "analyzers": ["cppcheck"]}), "path to c/")
    if r:
        t.is_(keys(r["findings"]),
              [("cppcheck", "arrayIndexOutOfBounds", "overflow.c", 13, 7),
               ("cppcheck", "bufferAccessOutOfBounds", "overflow.c", 22, 9),
               ("cppcheck", "nullPointer", "nullderef.c", 26, 2)],
              "paths are relative to the directory given")
    r = result(analyze(d, {"path": os.path.join(FIX, "shell",
                                                  "unquoted.sh")}),
               "path to one file")
    if r:
        t.is_(keys(r["findings"]),
              [("shellcheck", "SC2086", "unquoted.sh", 7, 8)],
              "one file by path: its findings under its name")

    # What a walk skips: hidden, __pycache__, symlinks, big files.
    proj = os.path.join(scratch, "proj")
    for p, text in (("app.py", "import json\n"),
                    ("tools/run", "#!/usr/bin/env python3\nimport re\n"),
                    (".hidden/x.py", "import os\n"),
                    ("__pycache__/y.py", "import os\n"),
                    ("big.py", "import os\n" + "#\n" * 3000),
                    ("Makefile", "all:\n\techo $(X)\n")):
        os.makedirs(os.path.dirname(os.path.join(proj, p)), exist_ok=True)
        with open(os.path.join(proj, p), "w") as f:
            f.write(text)
    os.symlink(os.path.join(FIX, "python", "unused_import.py"),
               os.path.join(proj, "link.py"))
    os.symlink("/usr/include", os.path.join(scratch, "escape"))
    r = result(analyze(d, {"path": proj, "analyzers": ["pyflakes"]}),
               "a project directory")
    if r:
        t.is_(keys(r["findings"]),
              [("pyflakes", "UnusedImport", "app.py", 1, 1),
               ("pyflakes", "UnusedImport", "tools/run", 2, 1)],
              "app.py and the #! script are read; hidden, __pycache__ "
              "and symlinked files are not")
        t.is_(r["ignored"], [{"path": "big.py",
                              "reason": "larger than max_file_bytes"}],
              "a file above max_file_bytes is ignored, and said so")
    failed_with(analyze(d, {"path": os.path.join(scratch, "escape")}),
                "bad_input", "not inside the plugin's allowed_paths",
                "a symlink out of allowed_paths")
    failed_with(analyze(d, {"path": os.path.dirname(FIX)}), "bad_input",
                "not inside the plugin's allowed_paths",
                "a directory above the allowed one")
    failed_with(analyze(d, {"path": "tests/fixtures"}), "bad_input",
                "path: \"tests/fixtures\" must be absolute",
                "a relative path")
    failed_with(analyze(d, {"path": os.path.join(FIX, "nothing-here")}),
                "bad_input", "No such file or directory", "a missing path")


def test_metrics(d):
    inp = {"files": {"src/known.c": C_METRICS, "known.py": PY_METRICS},
           "analyzers": ["c-metrics", "python-metrics"]}
    r = result(analyze(d, inp), "metrics of known sources")
    if not r:
        return
    m = r["metrics"]["files"]
    c = m.get("src/known.c", {})
    t.is_({k: c.get(k) for k in ("language", "lines", "code_lines",
                                 "comment_lines", "blank_lines")},
          {"language": "c", "lines": 40, "code_lines": 33,
           "comment_lines": 2, "blank_lines": 5},
          "C: lines, code, comment-only and blank lines")
    t.is_(c.get("functions"), C_FUNCTIONS,
          "C: each function's name, lines, parameters and complexity")
    p = m.get("known.py", {})
    t.is_({k: p.get(k) for k in ("language", "lines", "code_lines",
                                 "comment_lines", "blank_lines")},
          {"language": "python", "lines": 32, "code_lines": 26,
           "comment_lines": 1, "blank_lines": 5},
          "Python: lines, code, comment-only and blank lines")
    t.is_(p.get("functions"), PY_FUNCTIONS,
          "Python: qualified names, lines, parameters and complexity")
    t.is_(r["metrics"]["total"],
          {"files": 2, "lines": 72, "code_lines": 59, "comment_lines": 3,
           "blank_lines": 10, "functions": 7, "max_complexity": 11,
           "mean_complexity": 4.43}, "totals over both files")
    t.is_(r["findings"], [], "metrics alone make no findings")
    t.is_([a["name"] for a in r["analyzers"]], ["c-metrics",
                                                "python-metrics"],
          "only the analyzers asked for run")

    inp["complexity_threshold"] = 4
    r = result(analyze(d, inp), "complexity_threshold 4")
    if r:
        t.is_(keys(r["findings"]),
              [("c-metrics", "complexity", "src/known.c", 9, 0),
               ("python-metrics", "complexity", "known.py", 6, 0)],
              "functions above the threshold are findings at their line")
        t.like(r["findings"][0]["message"],
               "function grade has a cyclomatic complexity of 10 "
               "(more than 4)", "the finding names function and values")
        t.is_([x["tool"]["driver"]["name"] for x in r["sarif"]["runs"]],
              ["c-metrics", "python-metrics"],
              "the metrics analyzers get SARIF runs then")


def test_detection(d):
    files = {"bad.py": "def broken(:\n    pass\n",
             "bin/cleanup": "#!/usr/bin/env bash\nrm -rf $1/tmp\n",
             "tools/run": "#!/usr/bin/python3\nimport sys\n",
             "notes.txt": "hello\n"}
    r = result(analyze(d, {"files": files}), "languages by name and #!")
    if r:
        t.is_(keys(r["findings"]),
              [("pyflakes", "SyntaxError", "bad.py", 1, 12),
               ("pyflakes", "UnusedImport", "tools/run", 2, 1),
               ("shellcheck", "SC2086", "bin/cleanup", 2, 8)],
              "a syntax error; #! lines make a Python and a bash script")
        t.is_(r["files"], [{"path": "bad.py", "language": "python"},
                           {"path": "bin/cleanup", "language": "shell"},
                           {"path": "tools/run", "language": "python"}],
              "each file's language is reported")
        t.like(r["metrics"]["files"].get("bad.py", {}).get("error"),
               "SyntaxError", "the metrics of an unparsable file say why")
        t.is_([x["path"] for x in r["ignored"]], ["notes.txt"],
              "a text file is ignored")
    r = result(analyze(d, {"files": {"snippet": "import os\n",
                                     "a.c": "int x;\n"},
                           "language": "python"}), "language python")
    if r:
        t.is_(keys(r["findings"]),
              [("pyflakes", "UnusedImport", "snippet", 1, 1)],
              "language: a file without extension is taken as Python")
        t.is_(r["ignored"], [{"path": "a.c", "reason":
                              "not in the language asked for"}],
              "language: files of other languages are left out")
    r = result(analyze(d, {"files": {"a.c": "int x;\n"},
                           "analyzers": ["shellcheck"]}),
               "an analyzer for a language not present")
    if r:
        t.is_(r["analyzers"], [{"name": "shellcheck", "files": 0,
                                "status": "skipped",
                                "reason": "no shell files among the "
                                          "input"}],
              "an analyzer asked for without its files is skipped")


def test_bad_input(d):
    cases = [
        ({"files": {"a.c": "int x;\n"}, "path": FIX},
         "files, path: give one of them, not both", "files and path"),
        ({}, "files: give the code to analyze", "neither files nor path"),
        ({"files": {}}, "files: no files given", "empty files"),
        ({"files": {"../a.c": "int x;\n"}},
         "files: path \"../a.c\" must not have empty, \".\" or \"..\" "
         "components", "a path with .."),
        ({"files": {"/etc/a.c": "int x;\n"}},
         "files: path \"/etc/a.c\" must be relative", "an absolute path"),
        ({"files": {"a//b.c": "int x;\n"}},
         "must not have empty", "an empty path component"),
        ({"files": {"README": "hello\n", "x.md": "# x\n"}},
         "files: none of the 2 files is C, C++, Python or shell",
         "no source file"),
    ]
    for inp, part, name in cases:
        failed_with(analyze(d, inp), "bad_input", part, name)
    for inp, name in (({"files": {"a.c": 1}}, "content not a string"),
                      ({"files": {"a.c": ""}, "analyzers": ["lint"]},
                       "an unknown analyzer"),
                      ({"files": {"a.c": ""}, "language": "rust"},
                       "an unknown language"),
                      ({"files": {"a.c": ""}, "color": True},
                       "an unknown field")):
        st, _, body = d.submit(CAP, inp)
        t.is_((st, t.error_code(body)), (422, "invalid_input"),
              "%s is refused at submit (schema)" % name)


def test_limits(d):
    r = result(analyze(d, {"files": {"a.c": "int main(void) { return 0; }\n"},
                           "analyzers": ["cppcheck", "c-metrics"],
                           "limits": {"wall_ms": 1}}), "wall_ms 1")
    if r:
        st = status_of(r)
        t.is_((st["cppcheck"]["status"], st["cppcheck"].get("reason")),
              ("failed", "cppcheck was stopped by the sandbox's timeout "
               "limit"), "a tool past its time limit is a failed analyzer")
        t.is_(st["c-metrics"]["status"], "ran",
              "the other analyzers still run")
        t.is_(r["sarif"]["runs"], [], "a failed tool gets no SARIF run")


def test_tools_config(d, base_cfg):
    cfg = dict(base_cfg)
    block = dict(cfg["plugins"]["analysis"])
    block["tools"] = {"shellcheck": "shellcheck-not-installed",
                      "clang-tidy": False}
    cfg["plugins"] = dict(cfg["plugins"], analysis=block)
    d.set_config(cfg)
    st, _, body = d.reload(wait=True)
    t.is_(st, 200, "reload with tools overridden")
    r = result(analyze(d, {"files": fixture_files()}), "a tool missing")
    if r:
        s = status_of(r)
        t.is_({k: s["shellcheck"].get(k) for k in
               ("status", "reason", "install_hint")},
              {"status": "skipped",
               "reason": "shellcheck-not-installed is not installed (not "
                         "found in /usr/local/bin, /usr/bin or /bin)",
               "install_hint": "apt-get install shellcheck"},
              "a missing tool: skipped, with why and the install hint")
        t.is_({k: s["clang-tidy"].get(k) for k in ("status", "reason")},
              {"status": "skipped",
               "reason": "disabled by the plugin config (tools.clang-tidy "
                         "is false)"}, "a disabled tool: skipped, and why")
        t.is_(keys(r["findings"]), sorted(x for x in EXPECTED
                                          if x[0] != "shellcheck"),
              "the other tools still report their findings")
        t.is_([x["tool"]["driver"]["name"] for x in r["sarif"]["runs"]],
              ["cppcheck", "pyflakes"], "skipped tools get no SARIF run")

    block = dict(block, sandbox_driver="sandbox-none")
    cfg["plugins"] = dict(cfg["plugins"], analysis=block)
    d.set_config(cfg)
    st, _, _ = d.reload(wait=True)
    t.is_(st, 200, "reload with a sandbox driver that does not exist")
    failed_with(analyze(d, {"files": {"a.py": "import os\n"}}),
                "no_sandbox", "no sandbox driver \"sandbox-none\"",
                "without a sandbox, tools do not run")
    r = result(analyze(d, {"files": {"a.c": "int f(int a) { return a; }\n"},
                           "analyzers": ["c-metrics"]}),
               "built-in metrics without a sandbox")
    if r:
        t.is_([(f["name"], f["complexity"]) for f in
               r["metrics"]["files"]["a.c"]["functions"]], [("f", 1)],
              "the in-process C metrics need no sandbox")


def main():
    scratch = t.tempdir("mcpd-analysis-")
    os.chmod(scratch, 0o755)
    cfg = sb.config(runs=sb.run_dir())
    cfg["plugins"]["analysis"] = {"allowed_paths": [FIX, scratch],
                                  "max_file_bytes": 4096}
    d = t.Daemon(config=cfg)
    test_capability(d)
    r = test_fixtures_inline(d)
    if r:
        test_sarif(r)
    test_directory(d, r or {}, scratch)
    test_metrics(d)
    test_detection(d)
    test_bad_input(d)
    test_limits(d)
    test_tools_config(d, cfg)
    t.is_(d.stop(), 0, "mcpd stops cleanly (exit 0: no sanitizer report)")
    t.done_testing()


main()
