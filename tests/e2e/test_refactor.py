#!/usr/bin/env python3
"""code.refactor (plugins/refactor, issue 6) through the running daemon's
REST API, on the programs in tests/fixtures/refactor:

- format: clang-format on C (the exact diff; a .clang-format among the
  files wins) and black on Python (the exact diff), then verified: gcc
  -fsyntax-only / py_compile, and the given pytest tests through code.test;
- rename: token-aware in C and Python -- identifiers in strings,
  comments, docstrings and f-string text left alone, f-string fields
  renamed -- with the exact diff and occurrences; refusals: a new name
  that collides with an existing identifier, a keyword, a builtin, a name
  that does not occur, a file the tokenizer cannot close;
- rename that breaks a test (a lookup by the function's name in a string)
  reported failed, naming the test;
- rewrite through code.generate's LLM backend against fake_llm.FakeLLM:
  the exact diff, the prompt carrying the instructions and the file; a
  rewrite that no longer compiles reported failed with gcc's error; an
  LLM that answers HTTP 500 reported failed.

Under valgrind (MCPD_TEST_WRAPPER) no sandbox driver can run (sandbox-ns'
clone() namespaces and the drivers' pidfds are beyond valgrind): the
daemon then runs without one, and what needs no tool still runs -- the
refusals, a rename that cannot be verified without a sandbox failing
"no_sandbox", an LLM error through code.generate.
"""

import os
import shutil

import mcpdtest as t
import sandboxtest as sb
from fake_llm import FakeLLM

FIX = os.path.join(t.env("MCPD_SOURCE_DIR"), "tests", "fixtures", "refactor")
SANDBOX = not t.WRAPPER
DRIVER = "sandbox-ns"
TIMEOUT = 120


def fixture(rel):
    with open(os.path.join(FIX, rel)) as f:
        return f.read()


STATS_C = fixture("c/stats.c")
STATS_H = fixture("c/stats.h")
INVENTORY = fixture("python/inventory.py")
TEST_INVENTORY = fixture("python/tests/test_inventory.py")
TEST_LOOKUP = fixture("python/tests/test_lookup.py")


def plugin_dir():
    """A private plugin dir with what this test needs (the other plugins
    in the build dir, half-built or not, do not disturb it)."""
    src = t.env("MCPD_PLUGIN_DIR")
    d = t.tempdir("mcpd-refactor-plugins-")
    have = []
    for name in ("refactor", "codegen", "testing") + \
            ((DRIVER,) if SANDBOX else ()):
        p = os.path.join(src, name + ".so")
        if os.path.exists(p):
            shutil.copy(p, d)
            have.append(name)
    if "refactor" not in have:
        t.skip_all("refactor.so is not built")
    return d, have


def config(llm_url):
    llm = {"base_url": llm_url, "model": "fake-model", "timeout_ms": 5000,
           "max_tokens": 1024, "temperature": 0}
    # The refusals below fail many tasks in a row: keep the router's
    # circuit breaker from taking them for a sick provider.
    if not SANDBOX:
        return {"breaker_failures": 1000,
                "plugins": {"codegen": {"llm": llm}}}
    cfg = sb.config(runs=sb.run_dir(), default=DRIVER,
                    breaker_failures=1000)
    for k in list(cfg["plugins"]):
        if k != DRIVER:
            cfg["plugins"].pop(k)
    drv = {"sandbox_driver": DRIVER}
    cfg["plugins"]["refactor"] = dict(drv)
    cfg["plugins"]["testing"] = dict(drv)
    cfg["plugins"]["codegen"] = dict(drv, llm=llm)
    return cfg


def refactor(d, inp):
    tid = d.submit_ok("code.refactor", inp)
    return d.wait_task(tid, TIMEOUT) if tid else {}


def result(task):
    r = task.get("result") if isinstance(task, dict) else None
    return r if isinstance(r, dict) else {}


def error(task):
    e = task.get("error") if isinstance(task, dict) else None
    return e if isinstance(e, dict) else {}


def succeeded(task, name):
    if not t.ok(task.get("status") == "succeeded", name):
        t.diag("    status %r error %r" % (task.get("status"),
                                            task.get("error")))
        return False
    return True


def failed_with(task, code, message, name, exact=True):
    """The task failed with `code`; its message is `message` (exact) or
    contains it."""
    e = error(task)
    if not t.ok(task.get("status") == "failed" and e.get("code") == code,
                name):
        t.diag("    status %r error %r result %r" % (
            task.get("status"), e, result(task).get("verification")))
        return ""
    if exact:
        t.is_(e.get("message"), message, name + ": the message")
    else:
        t.like(e.get("message"), message, name + ": the message says why")
    return e.get("message") or ""


# ------------------------------------------------------------ format

FORMAT_C_DIFF = """\
--- a/stats.c
+++ b/stats.c
@@ -1,17 +1,17 @@
-#include <stdio.h>
 #include "stats.h"
+#include <stdio.h>
 
 /* total: the sum of the first count values */
-int total(const int *values,int count){
-    int sum=0;
-    for(int i=0;i<count;i++) sum+=values[i];
-    return sum;
+int total(const int *values, int count) {
+  int sum = 0;
+  for (int i = 0; i < count; i++)
+    sum += values[i];
+  return sum;
 }
 
-double mean(const int *values, int count)
-{
-\tif (count == 0)
-\t\treturn 0.0;
-\tprintf("total of %d values\\n", count); // says total, calls total()
-\treturn (double)total(values, count) / count;
+double mean(const int *values, int count) {
+  if (count == 0)
+    return 0.0;
+  printf("total of %d values\\n", count); // says total, calls total()
+  return (double)total(values, count) / count;
 }
"""

FORMAT_PY_DIFF = """\
--- a/inventory.py
+++ b/inventory.py
@@ -1,14 +1,14 @@
 \"\"\"Counting the items of an inventory; count_items is the workhorse.\"\"\"
 
 
-def count_items(items,kind = None):
+def count_items(items, kind=None):
     # count_items counts the items of one kind, or all of them
-    if kind is None :
-        return len( items )
-    return len([i for i in items if i["kind"]==kind])
+    if kind is None:
+        return len(items)
+    return len([i for i in items if i["kind"] == kind])
 
 
 def report(items):
     n = count_items(items)
-    label = 'count_items'
+    label = "count_items"
     return f"{n} items ({label}: {count_items(items, 'tool')} tools)"
"""


def format_c(d):
    task = refactor(d, {"operation": "format",
                        "files": {"stats.c": STATS_C, "stats.h": STATS_H}})
    r = result(task)
    if not succeeded(task, "format c: succeeded"):
        return
    t.is_(r.get("diff"), FORMAT_C_DIFF,
          "format c: clang-format's exact diff (LLVM style by default)")
    t.is_(r.get("changed"), ["stats.c"],
          "format c: only stats.c changed (stats.h was already formatted)")
    t.is_((r.get("files") or {}).get("stats.h"), STATS_H,
          "format c: the unchanged header comes back as it was")
    t.is_(r.get("tools"), [{"name": "clang-format", "files":
                            ["stats.c", "stats.h"]}],
          "format c: clang-format ran on both files")
    t.is_((r.get("verification") or {}).get("compile"),
          [{"language": "c", "tool": "gcc", "status": "passed"}],
          "format c: verified with gcc -fsyntax-only")

    style = "BasedOnStyle: LLVM\nIndentWidth: 8\nUseTab: Always\n" \
            "BreakBeforeBraces: Linux\n"
    task = refactor(d, {"operation": "format", "language": "c",
                        "files": {"stats.c": STATS_C,
                                  ".clang-format": style}})
    if succeeded(task, "format c with a .clang-format: succeeded"):
        t.like((result(task).get("files") or {}).get("stats.c"),
               "int total(const int *values, int count)\n{\n"
               "\tint sum = 0;\n",
               "format c: the .clang-format among the files is followed")
    task = refactor(d, {"operation": "format", "style": "GNU",
                        "paths": ["stats.h"],
                        "files": {"stats.c": STATS_C, "stats.h": STATS_H}})
    if succeeded(task, "format c, style GNU, paths [stats.h]: succeeded"):
        r = result(task)
        t.is_((r.get("changed"), r.get("files", {}).get("stats.c")),
              (["stats.h"], STATS_C),
              "format c: only the path asked for is formatted")
        t.like(r.get("diff"), "+int total (const int *values, int count);",
               "format c: GNU style puts a space before the parenthesis")


def format_python(d):
    task = refactor(d, {"operation": "format",
                        "files": {"inventory.py": INVENTORY},
                        "tests": {"framework": "pytest",
                                  "files": {"tests/test_inventory.py":
                                            TEST_INVENTORY}}})
    r = result(task)
    if not succeeded(task, "format python: succeeded"):
        return
    t.is_(r.get("diff"), FORMAT_PY_DIFF, "format python: black's exact diff")
    t.is_((r.get("changed"), r.get("language"), r.get("tools")),
          (["inventory.py"], "python",
           [{"name": "black", "files": ["inventory.py"]}]),
          "format python: inventory.py changed by black")
    v = r.get("verification") or {}
    t.is_(v.get("compile"),
          [{"language": "python", "tool": "python3", "status": "passed"}],
          "format python: verified with py_compile")
    tests = v.get("tests") or {}
    after = tests.get("after") or {}
    t.is_((tests.get("status"), after.get("passed"),
           (after.get("summary") or {}).get("passed"),
           (after.get("summary") or {}).get("failed"), after.get("failing")),
          ("passed", True, 3, 0, []),
          "format python: the 3 pytest tests still pass (code.test)")

    task = refactor(d, {"operation": "format", "line_length": 40,
                        "files": {"inventory.py": INVENTORY}})
    if succeeded(task, "format python, line_length 40: succeeded"):
        t.like((result(task).get("files") or {}).get("inventory.py"),
               "    return len(\n        [\n            i\n",
               "format python: black's line length is passed on")

    task = refactor(d, {"operation": "format",
                        "files": {"broken.py": "def f(:\n    pass\n"}})
    failed_with(task, "bad_input", "files: black cannot format them: "
                "error: cannot format broken.py: Cannot parse: 1:6: "
                "def f(:", "format python: unparsable input refused",
                exact=False)


# ------------------------------------------------------------ rename

RENAME_C_DIFF = """\
--- a/stats.c
+++ b/stats.c
@@ -2,7 +2,7 @@
 #include "stats.h"
 
 /* total: the sum of the first count values */
-int total(const int *values,int count){
+int sum_values(const int *values,int count){
     int sum=0;
     for(int i=0;i<count;i++) sum+=values[i];
     return sum;
@@ -13,5 +13,5 @@
 \tif (count == 0)
 \t\treturn 0.0;
 \tprintf("total of %d values\\n", count); // says total, calls total()
-\treturn (double)total(values, count) / count;
+\treturn (double)sum_values(values, count) / count;
 }
--- a/stats.h
+++ b/stats.h
@@ -1,7 +1,7 @@
 #ifndef STATS_H
 #define STATS_H
 
-int total(const int *values, int count);
+int sum_values(const int *values, int count);
 double mean(const int *values, int count);
 
 #endif
"""

RENAME_PY_DIFF = """\
--- a/inventory.py
+++ b/inventory.py
@@ -1,7 +1,7 @@
 \"\"\"Counting the items of an inventory; count_items is the workhorse.\"\"\"
 
 
-def count_items(items,kind = None):
+def tally(items,kind = None):
     # count_items counts the items of one kind, or all of them
     if kind is None :
         return len( items )
@@ -9,6 +9,6 @@
 
 
 def report(items):
-    n = count_items(items)
+    n = tally(items)
     label = 'count_items'
-    return f"{n} items ({label}: {count_items(items, 'tool')} tools)"
+    return f"{n} items ({label}: {tally(items, 'tool')} tools)"
--- a/tests/test_inventory.py
+++ b/tests/test_inventory.py
@@ -2,17 +2,17 @@
 
 sys.path.insert(0, ".")
 
-from inventory import count_items, report  # noqa: E402
+from inventory import tally, report  # noqa: E402
 
 ITEMS = [{"kind": "tool"}, {"kind": "food"}, {"kind": "tool"}]
 
 
 def test_count_all():
-    assert count_items(ITEMS) == 3
+    assert tally(ITEMS) == 3
 
 
 def test_count_kind():
-    assert count_items(ITEMS, "tool") == 2
+    assert tally(ITEMS, "tool") == 2
 
 
 def test_report():
"""


def occ(f, line, col):
    return {"file": f, "line": line, "column": col}


def rename_c(d):
    files = {"stats.c": STATS_C, "stats.h": STATS_H}
    task = refactor(d, {"operation": "rename", "old_name": "total",
                        "new_name": "sum_values", "files": files})
    r = result(task)
    if succeeded(task, "rename c: succeeded"):
        t.is_(r.get("diff"), RENAME_C_DIFF,
              "rename c: the exact diff; the comment, the string and the "
              "// comment keep 'total'")
        t.is_((r.get("renamed"), r.get("occurrences")),
              (3, [occ("stats.c", 5, 5), occ("stats.c", 16, 17),
                   occ("stats.h", 4, 5)]),
              "rename c: 3 occurrences, with their lines and columns")
        t.is_((r.get("verification") or {}).get("compile"),
              [{"language": "c", "tool": "gcc", "status": "passed"}],
              "rename c: still compiles")


def rename_python(d):
    files = {"inventory.py": INVENTORY,
             "tests/test_inventory.py": TEST_INVENTORY}
    task = refactor(d, {"operation": "rename", "old_name": "count_items",
                        "new_name": "tally", "files": files,
                        "tests": {"framework": "pytest"}})
    r = result(task)
    if succeeded(task, "rename python: succeeded"):
        t.is_(r.get("diff"), RENAME_PY_DIFF,
              "rename python: the exact diff; docstring, comment, the "
              "string and the f-string text keep 'count_items', the "
              "f-string field is renamed")
        t.is_((r.get("renamed"), r.get("occurrences")),
              (6, [occ("inventory.py", 4, 5), occ("inventory.py", 12, 9),
                   occ("inventory.py", 14, 35),
                   occ("tests/test_inventory.py", 5, 23),
                   occ("tests/test_inventory.py", 11, 12),
                   occ("tests/test_inventory.py", 15, 12)]),
              "rename python: 6 occurrences in the module and its tests")
        v = r.get("verification") or {}
        t.is_((v.get("compile"), (v.get("tests") or {}).get("status"),
               ((v.get("tests") or {}).get("after") or {}).get("summary",
                                                               {}).get(
                   "passed")),
              ([{"language": "python", "tool": "python3",
                 "status": "passed"}], "passed", 3),
              "rename python: parses, and the renamed tests pass (3)")

    # The lookup test names the function in a string, which a rename
    # leaves alone by design: the rename breaks it.
    task = refactor(d, {"operation": "rename", "old_name": "count_items",
                        "new_name": "tally", "files": files,
                        "tests": {"framework": "pytest",
                                  "files": {"tests/test_lookup.py":
                                            TEST_LOOKUP}}})
    msg = failed_with(task, "verification_failed", "the renamed code breaks "
                      "tests that passed before: ",
                      "rename python: a rename that breaks a test is "
                      "reported failed", exact=False)
    t.ok("test_lookup_by_name" in msg and "AttributeError" in msg and
         "test_count_all" not in msg,
         "rename python: the evidence names the broken test and its error, "
         "and only it (%r)" % msg[:300])

def refusals(d):
    """Renames refused before any tool runs."""
    files = {"stats.c": STATS_C, "stats.h": STATS_H}
    task = refactor(d, {"operation": "rename", "old_name": "total",
                        "new_name": "sum", "files": files})
    failed_with(task, "bad_input", 'new_name: "sum" collides with an '
                "identifier already in stats.c at line 6, column 9; "
                "refusing the rename",
                "rename c: a new name that collides with a local is refused")
    task = refactor(d, {"operation": "rename", "old_name": "total",
                        "new_name": "while", "files": files})
    failed_with(task, "bad_input", 'new_name: "while" is a C keyword; '
                "refusing the rename", "rename c: a keyword is refused")
    task = refactor(d, {"operation": "rename", "old_name": "values",
                        "new_name": "v", "files": {"bad.c": "int values;\n"
                                                   "/* never closed\n"}})
    failed_with(task, "bad_input", 'files["bad.c"]: cannot tokenize it: '
                "comment opened on line 2 is never closed",
                "rename c: a file with an open comment is refused")
    files = {"inventory.py": INVENTORY,
             "tests/test_inventory.py": TEST_INVENTORY}
    task = refactor(d, {"operation": "rename", "old_name": "count_items",
                        "new_name": "len", "files": files})
    failed_with(task, "bad_input", 'new_name: "len" is a Python builtin the '
                "renamed code would shadow; refusing the rename",
                "rename python: a builtin is refused")
    task = refactor(d, {"operation": "rename", "old_name": "count_items",
                        "new_name": "report", "files": files})
    failed_with(task, "bad_input", 'new_name: "report" collides with an '
                "identifier already in inventory.py at line 11, column 5; "
                "refusing the rename",
                "rename python: a name that exists is refused")
    task = refactor(d, {"operation": "rename", "old_name": "workhorse",
                        "new_name": "horse", "files": files})
    failed_with(task, "bad_input", 'old_name: "workhorse" does not occur as '
                "an identifier in the files (strings and comments are left "
                "alone)", "rename python: a name only in a docstring is "
                "not found")


# ------------------------------------------------------------ rewrite

REWRITTEN = INVENTORY.replace(
    "def report(items):\n",
    "def report(items):\n    \"\"\"One line about the inventory.\"\"\"\n")

REWRITE_PY_DIFF = """\
--- a/inventory.py
+++ b/inventory.py
@@ -9,6 +9,7 @@
 
 
 def report(items):
+    \"\"\"One line about the inventory.\"\"\"
     n = count_items(items)
     label = 'count_items'
     return f"{n} items ({label}: {count_items(items, 'tool')} tools)"
"""

BROKEN_C = STATS_C.replace("    return sum;\n", "    return sum\n")


def rewrite(d, llm):
    instr = "Give report() a docstring."
    llm.add({"content": "Here it is.\n\n```python inventory.py\n%s```\n"
             % REWRITTEN})
    task = refactor(d, {"operation": "rewrite", "instructions": instr,
                        "files": {"inventory.py": INVENTORY},
                        "tests": {"framework": "pytest",
                                  "files": {"tests/test_inventory.py":
                                            TEST_INVENTORY}}})
    r = result(task)
    if succeeded(task, "rewrite python: succeeded"):
        t.is_(r.get("diff"), REWRITE_PY_DIFF,
              "rewrite python: the exact diff of the model's answer")
        t.is_(((r.get("generator") or {}).get("backend"),
               ((r.get("verification") or {}).get("tests") or {}).get(
                   "status")),
              ("llm", "passed"),
              "rewrite python: code.generate's llm backend wrote it, the "
              "tests still pass")
    prompt = repr(llm.requests[-1]) if llm.requests else ""
    t.ok(instr in prompt and "def count_items(items,kind = None):" in prompt,
         "rewrite python: the prompt carries the instructions and the file")

    llm.add({"content": "```c stats.c\n%s```\n" % BROKEN_C})
    task = refactor(d, {"operation": "rewrite", "language": "c",
                        "instructions": "Tidy total().",
                        "files": {"stats.c": STATS_C, "stats.h": STATS_H}})
    msg = failed_with(task, "verification_failed",
                      "the rewritten code does not compile any more (gcc): ",
                      "rewrite c: a rewrite that breaks compilation is "
                      "reported failed", exact=False)
    t.ok("stats.c:8:15: error: expected ';' before '}' token" in msg,
         "rewrite c: gcc's error is the evidence (%r)" % msg[:300])


def rewrite_llm_error(d, llm):
    llm.add({"status": 500, "body": "model crashed"})
    task = refactor(d, {"operation": "rewrite", "instructions": "Anything.",
                        "files": {"inventory.py": INVENTORY}})
    failed_with(task, "llm_http_error", "code.generate failed "
                "(llm_http_error): the LLM server answered HTTP 500",
                "rewrite: an LLM answering HTTP 500 fails the task with "
                "code.generate's error", exact=False)


def no_sandbox(d):
    task = refactor(d, {"operation": "rename", "old_name": "total",
                        "new_name": "sum_values",
                        "files": {"stats.c": STATS_C, "stats.h": STATS_H}})
    failed_with(task, "no_sandbox", "agents run tools only inside a sandbox",
                "rename c without a sandbox driver: not verified, so failed",
                exact=False)


# ------------------------------------------------------------ bad input

def bad_input(d):
    st, _, body = d.submit("code.refactor", {"operation": "rename"})
    t.is_((st, t.error_code(body)), (422, "invalid_input"),
          "no files: refused by the schema (422)")
    st, _, body = d.submit("code.refactor", {"operation": "format",
                                             "files": {}, "new": "x"})
    t.is_((st, t.error_code(body)), (422, "invalid_input"),
          "an unknown field: refused by the schema (422)")
    task = refactor(d, {"operation": "format", "language": "shell",
                        "files": {"a.sh": "echo hi\n"}})
    failed_with(task, "bad_input", 'language: format does not support '
                '"shell" (c, cpp, python)', "format shell: refused")
    task = refactor(d, {"operation": "format",
                        "files": {"README": "text\n"}})
    failed_with(task, "bad_input", "files: no file to format: none has a "
                ".c/.h, .cc/.cpp/.hpp or .py extension",
                "nothing to format: refused")
    task = refactor(d, {"operation": "format", "paths": ["nope.c"],
                        "files": {"a.c": "int a;\n"}})
    failed_with(task, "bad_input", 'paths[0]: "nope.c" is not one of files',
                "paths naming no file: refused")
    task = refactor(d, {"operation": "rename", "old_name": "a",
                        "files": {"a.c": "int a;\n"}})
    failed_with(task, "bad_input", "new_name: give the new name, an "
                "identifier ([A-Za-z_][A-Za-z0-9_]*)",
                "rename without new_name: refused")
    task = refactor(d, {"operation": "rewrite",
                        "files": {"a.c": "int a;\n"}})
    failed_with(task, "bad_input", "instructions: say what the rewrite "
                "should change", "rewrite without instructions: refused")
    task = refactor(d, {"operation": "format",
                        "files": {"../a.c": "int a;\n"}})
    failed_with(task, "bad_input", 'files: "../a.c" is not a relative path '
                "without . or .. parts", "a path leaving the tree: refused")


def main():
    pdir, have = plugin_dir()
    with FakeLLM([]) as llm:
        d = t.Daemon(plugin_dirs=[pdir], config=config(llm.base_url))
        caps = [c.get("name") for c in
                (d.get("/v1/capabilities")[2] or {}).get("capabilities", [])]
        t.ok("code.refactor" in caps, "code.refactor is offered")
        bad_input(d)
        refusals(d)
        if "codegen" in have:
            rewrite_llm_error(d, llm)
        else:
            t.ok(False, "codegen.so is built (needed for rewrite)")
        if SANDBOX:
            rename_c(d)
            rename_python(d)
            format_c(d)
            format_python(d)
            if "codegen" in have:
                rewrite(d, llm)
        else:
            no_sandbox(d)
            t.ok(True, "# SKIP format, rename, rewrite with verification: "
                 "no sandbox under valgrind")
        d.stop()
    t.done_testing()


main()
