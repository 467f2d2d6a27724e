#!/usr/bin/env python3
"""code.generate (plugins/codegen, issue 6) through the running daemon's
REST API:

- template backend, offline, for C, Python and shell: the exact files, the
  syntax check in the sandbox ("check": true), and the scaffolds built and
  run in the sandbox (make test, pytest, the TAP shell test, the script's
  argument parsing); tests for functions found in given files; bad
  signatures refused as bad_input naming the field;
- LLM backend against fake_llm.FakeLLM (an OpenAI-compatible server): the
  request (model, streaming, prompt, API key from the env var named in
  config), streamed pieces as task progress events, files extracted from
  fenced blocks by each naming rule, a non-streaming JSON answer, and clear
  task errors for a malformed reply, a timeout, HTTP 500, HTTP 401, no code
  block, an unset key variable and no endpoint configured;
- refine: generate -> code.test (plugins/testing) -> feed the failures back
  -> generate again, until the tests pass or the budget ends.

Under valgrind (MCPD_TEST_WRAPPER) the sandbox cannot run (its clone()
namespaces are beyond valgrind), so the parts that run code in it are
skipped there; everything else runs.
"""

import json
import os
import shutil

import mcpdtest as t
import sandboxtest as sb
from fake_llm import FakeLLM

KEY_ENV = "MCPD_CODEGEN_TEST_KEY"
KEY = "sk-test-codegen-1234"
BAD_KEY_ENV = "MCPD_CODEGEN_TEST_BAD_KEY"
UNSET_ENV = "MCPD_CODEGEN_TEST_UNSET"
SANDBOX = not t.WRAPPER
LIMITS = {"wall_ms": 60000, "memory_bytes": 512 * sb.MiB, "pids": 64}


def plugin_dir():
    """A private plugin dir with just what this test needs (others'
    plugins in the build dir do not disturb it)."""
    src = t.env("MCPD_PLUGIN_DIR")
    d = t.tempdir("mcpd-codegen-plugins-")
    have = []
    for name in ("codegen", "sandbox-ns", "testing"):
        p = os.path.join(src, name + ".so")
        if os.path.exists(p):
            shutil.copy(p, d)
            have.append(name)
    if "codegen" not in have:
        t.skip_all("codegen.so is not built")
    return d, have


def config(llm):
    cfg = sb.config(runs=sb.run_dir())
    for k in ("sandbox-bwrap", "sandbox-process"):
        cfg["plugins"].pop(k, None)
    cfg["plugins"]["codegen"] = {"llm": llm}
    # This test fails many tasks on purpose (bad input, LLM errors): keep
    # the circuit breaker from pausing the provider between them.
    cfg["breaker_failures"] = 1000
    return cfg


def llm_block(base_url, **over):
    b = {"base_url": base_url, "model": "fake-model",
         "api_key_env": KEY_ENV, "timeout_ms": 5000, "max_tokens": 512,
         "temperature": 0.1}
    b.update(over)
    return b


def gen(d, inp, timeout=90):
    inp = dict(inp)
    inp.setdefault("backend", "template")
    if not SANDBOX:
        inp.pop("check", None)
    tid = d.submit_ok("code.generate", inp)
    return d.wait_task(tid, timeout) if tid else {}


def result(task):
    r = task.get("result") if isinstance(task, dict) else None
    return r if isinstance(r, dict) else {}


def error(task):
    e = task.get("error") if isinstance(task, dict) else None
    return e if isinstance(e, dict) else {}


def succeeded(task, name):
    if not t.ok(task.get("status") == "succeeded", name):
        t.diag("    status %r error %r" % (task.get("status"), task.get("error")))
        return False
    return True


def failed_with(task, code, part, name):
    e = error(task)
    good = task.get("status") == "failed" and e.get("code") == code
    if not t.ok(good, name):
        t.diag("    status %r error %r" % (task.get("status"), e))
        return
    t.like(e.get("message"), part, name + ": the message says why")


def sandbox_run(d, argv, files, timeout=90):
    """Run argv over files in the sandbox (sandbox.exec) -> result."""
    tid = d.submit_ok("sandbox.exec", {"argv": argv, "files": files,
                                       "limits": LIMITS})
    task = d.wait_task(tid, timeout) if tid else {}
    if task.get("status") != "succeeded":
        t.diag("sandbox.exec: %r" % (task.get("error"),))
    return result(task)


def skip(n, why):
    for _ in range(n):
        t.ok(True, "# SKIP " + why)


# ------------------------------------------------------------ template

def template_c(d):
    task = gen(d, {"language": "c", "name": "calc",
                   "signature": "int add(int a, int b)",
                   "description": "Adds two ints.", "check": True})
    r = result(task)
    if not succeeded(task, "c template: succeeded"):
        return
    files = r.get("files") or {}
    t.is_(sorted(files), ["Makefile", "calc.c", "calc.h", "test_calc.c"],
          "c template: header, source, TAP test and Makefile")
    t.is_((r.get("backend"), r.get("language")), ("template", "c"),
          "c template: backend and language reported")
    t.ok("int add(int a, int b);" in files.get("calc.h", "") and
         "#ifndef CALC_H" in files.get("calc.h", "") and
         " * Adds two ints." in files.get("calc.h", ""),
         "c template: the header declares add() with its description")
    t.ok("\n#include \"calc.h\"\n" in files.get("calc.c", "") and
         "int add(int a, int b)\n{\n" in files.get("calc.c", ""),
         "c template: the source defines add()")
    if not SANDBOX:
        return skip(3, "sandbox under valgrind")
    c = r.get("check") or {}
    t.is_((c.get("passed"), c.get("exit_code"), c.get("output")),
          (True, 0, ""), "c template: cc -Wall -Wextra checks it, no warning")
    t.is_(c.get("command"), ["cc", "-std=c11", "-Wall", "-Wextra",
                             "-fsyntax-only", "calc.c", "test_calc.c"],
          "c template: the check command")
    x = sandbox_run(d, ["make", "-s", "test"], files)
    t.is_((x.get("exit_code"), x.get("stdout")),
          (0, "1..1\nok 1 - add(0, 0) returns\n"),
          "c template: make test builds and runs the TAP test in the sandbox")


def template_python(d):
    task = gen(d, {"language": "python", "name": "calc",
                   "signature": "def add(a: int, b: int = 2, *, key: str) "
                                "-> int:",
                   "description": 'Adds.\nQuotes """ and a \\ stay inert.',
                   "check": True})
    r = result(task)
    if not succeeded(task, "python template: succeeded"):
        return
    files = r.get("files") or {}
    t.is_(sorted(files), ["calc.py", "test_calc.py"],
          "python template: module and pytest file")
    t.ok("def add(a: int, b: int = 2, *, key: str) -> int:\n"
         in files.get("calc.py", "") and
         "    return 0\n" in files.get("calc.py", ""),
         "python template: the def as given, returning the zero of int")
    t.is_(files.get("test_calc.py"),
          '"""Tests of calc.add (pytest)."""\n\nfrom calc import add\n\n\n'
          "def test_add_runs():\n    # Scaffold: replace with calls on "
          "real inputs and checks of their results.\n"
          '    result = add(0, key="")\n'
          "    assert isinstance(result, int)\n",
          "python template: the exact test (keyword-only argument by name)")
    if not SANDBOX:
        return skip(2, "sandbox under valgrind")
    c = r.get("check") or {}
    t.is_((c.get("passed"), c.get("command")),
          (True, ["python3", "-m", "py_compile", "calc.py", "test_calc.py"]),
          "python template: py_compile passes")
    x = sandbox_run(d, ["python3", "-m", "pytest", "-q", "-p",
                        "no:cacheprovider"], files)
    t.ok(x.get("exit_code") == 0 and "1 passed" in (x.get("stdout") or ""),
         "python template: pytest runs the test: 1 passed (%r)"
         % (x.get("stdout") or "")[-80:])


def template_shell(d):
    task = gen(d, {"language": "shell", "name": "backup",
                   "signature": "backup [-v|--verbose] [-o FILE] "
                                "[--level=N] SRC [DEST...]",
                   "description": "Backs up files.", "check": True})
    r = result(task)
    if not succeeded(task, "shell template: succeeded"):
        return
    files = r.get("files") or {}
    t.is_(sorted(files), ["backup.sh", "test_backup.sh"],
          "shell template: script and TAP test")
    t.ok(files.get("backup.sh", "").startswith(
        "#!/bin/sh\n# backup.sh -- Backs up files.\nset -eu\n"),
        "shell template: sh script with its description")
    if not SANDBOX:
        return skip(5, "sandbox under valgrind")
    c = r.get("check") or {}
    t.is_((c.get("passed"), c.get("exit_code")), (True, 0),
          "shell template: sh -n passes")
    x = sandbox_run(d, ["sh", "backup.sh", "-v", "-o", "out.txt",
                        "--level=3", "a", "b", "c"], files)
    t.is_((x.get("exit_code"), x.get("stdout")),
          (0, "verbose=1 file=out.txt level=3 src=a rest=b c\n"),
          "shell template: flags, an option argument, --opt=value, "
          "positionals and the rest are parsed")
    x = sandbox_run(d, ["sh", "backup.sh", "--bogus", "a"], files)
    t.is_((x.get("exit_code"), x.get("stderr")),
          (2, "backup.sh: unknown option: --bogus\n"
              "Try 'backup.sh --help'.\n"),
          "shell template: an unknown option exits 2 with a message")
    x = sandbox_run(d, ["sh", "backup.sh", "-o"], files)
    t.is_((x.get("exit_code"), x.get("stderr").splitlines()[0]
           if x.get("stderr") else None),
          (2, "backup.sh: option -o needs an argument"),
          "shell template: a missing option argument exits 2")
    x = sandbox_run(d, ["sh", "test_backup.sh"], files)
    t.is_((x.get("exit_code"), x.get("stdout")),
          (0, "1..4\nok 1 - --help exits 0\nok 2 - an unknown option "
              "exits 2\nok 3 - missing arguments exit 2\n"
              "ok 4 - runs with its arguments\n"),
          "shell template: its TAP test passes")


def template_tests_for_files(d):
    mod = "def mul(a: int, b: int) -> int:\n    return a * b\n"
    task = gen(d, {"language": "python", "name": "mul", "target": "tests",
                   "files": {"pkg/mathx.py": mod}})
    r = result(task)
    files = r.get("files") or {}
    if succeeded(task, "tests for a function in the files: succeeded"):
        t.is_(sorted(files), ["test_mathx.py"],
              "python: only the test file, named after the module")
        t.like(files.get("test_mathx.py"), "from pkg.mathx import mul\n",
               "python: it imports the function from the file it is in")
    hdr = "#ifndef GEO_H\n#define GEO_H\n/* area */\ndouble area(double w,\n" \
          "            double h);\n#endif\n"
    src = '#include "geo.h"\ndouble area(double w, double h)\n{\n' \
          "\treturn w * h;\n}\n"
    task = gen(d, {"language": "c", "name": "area", "target": "tests",
                   "files": {"geo.h": hdr, "geo.c": src}})
    r = result(task)
    cfiles = r.get("files") or {}
    if succeeded(task, "c tests for a declared function: succeeded"):
        t.is_(sorted(cfiles), ["Makefile", "test_geo.c"],
              "c: test file and Makefile for module geo")
        t.like(cfiles.get("test_geo.c"),
               "double result = area(0.0, 0.0);",
               "c: the test calls area() with the parsed signature")
    if not SANDBOX:
        return skip(2, "sandbox under valgrind")
    x = sandbox_run(d, ["python3", "-m", "pytest", "-q", "-p",
                        "no:cacheprovider"],
                    dict(files, **{"pkg/mathx.py": mod}))
    t.ok(x.get("exit_code") == 0 and "1 passed" in (x.get("stdout") or ""),
         "python: the generated test passes against the real module (%r)"
         % (x.get("stdout") or "")[-80:])
    x = sandbox_run(d, ["make", "-s", "test"],
                    dict(cfiles, **{"geo.h": hdr, "geo.c": src}))
    t.is_((x.get("exit_code"), x.get("stdout")),
          (0, "1..1\nok 1 - area(0.0, 0.0) returns\n"),
          "c: make test builds the given code with the new test")


def template_bad_input(d):
    cases = [
        ({"language": "c", "name": "calc",
          "signature": "int add(int a, struct point p)"},
         'signature: parameter 2 ("p"): a struct, union or FILE is passed '
         "by pointer only"),
        ({"language": "c", "name": "calc", "signature": "int add(int a, "
          "widget w)"},
         'signature: parameter 2 ("w"): unknown type "widget"'),
        ({"language": "c", "name": "calc", "signature": "add two numbers"},
         "signature: expected a C prototype"),
        ({"language": "python", "name": "calc",
          "signature": "def f(a=__import__('os').system('x'))"},
         'signature: parameter "a": the default'),
        ({"language": "python", "name": "class"},
         'name: "class" is a Python keyword'),
        ({"language": "c", "name": "9lives"},
         'name: "9lives" is not a valid c name'),
        ({"language": "shell", "name": "s", "signature": "[-h] FILE"},
         None),  # -h is the help option already: accepted
        ({"language": "shell", "name": "s", "signature": "-x|--ex [A"},
         'signature: "[" without "]"'),
        ({"language": "python", "name": "m", "files": {"../x.py": ""}},
         'files: "../x.py" is not a relative path'),
    ]
    for inp, msg in cases:
        task = gen(d, inp)
        if msg is None:
            t.is_(task.get("status"), "succeeded",
                  "accepted: %s" % json.dumps(inp))
            continue
        failed_with(task, "bad_input", msg, "refused: %s" % json.dumps(inp))


# ------------------------------------------------------------ LLM

REPLY = (
    "Here is the module.\n\n"
    "```python calc.py\n"
    "def add(a, b):\n    return a + b\n"
    "```\n\n"
    "And its tests:\n\n"
    "```python\n"
    "# file: test_calc.py\n"
    "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    "```\n\n"
    "**README.md**\n"
    "```markdown\n"
    "Adds numbers.\n"
    "```\n"
)
REPLY_FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n"
                    "    assert add(2, 3) == 5\n",
    "README.md": "Adds numbers.\n",
}


def llm_streaming(d, llm):
    llm.add({"content": REPLY, "chunk_delay_s": 0.03})
    n_before = len(llm.requests)
    tid = d.submit_ok("code.generate", {
        "language": "python", "name": "calc", "backend": "llm",
        "signature": "def add(a, b)", "description": "Adds two numbers.",
        "instructions": "Use no imports.", "tests": {
            "test_given.py": "from calc import add\n"}})
    if not tid:
        return
    st, _, evs, ended = d.events(tid, timeout=60)
    task = d.wait_task(tid, 30)
    r = result(task)
    if not succeeded(task, "llm: succeeded"):
        return
    t.is_(r.get("files"), REPLY_FILES,
          "llm: files named by info string, first-line comment and the "
          "prose line before the fence; the comment line is removed")
    t.is_((r.get("backend"), r.get("model"), r.get("finish_reason"),
           r.get("reply")), ("llm", "fake-model", "stop", REPLY),
          "llm: backend, model, finish reason and the reply reported")
    req = llm.requests[n_before] if len(llm.requests) > n_before else {}
    hdr = llm.headers[n_before] if len(llm.headers) > n_before else {}
    t.is_((req.get("model"), req.get("stream"), req.get("max_tokens"),
           req.get("temperature")), ("fake-model", True, 512, 0.1),
          "llm: model, stream, max_tokens and temperature from config")
    t.is_(hdr.get("Authorization"), "Bearer " + KEY,
          "llm: the API key from the env var named in llm.api_key_env")
    msgs = req.get("messages") or []
    t.is_([m.get("role") for m in msgs], ["system", "user"],
          "llm: a system and a user message")
    user = msgs[1].get("content", "") if len(msgs) > 1 else ""
    for part in ("Language: Python 3\n", "Name: calc\n",
                 "Signature: def add(a, b)\n",
                 "Description: Adds two numbers.\n",
                 "Instructions:\nUse no imports.\n",
                 "```python test_given.py\nfrom calc import add\n```\n"):
        t.like(user, part, "llm: the prompt holds %r" % part.split("\n")[0])
    prog = [e["data"] for e in evs if e.get("event") == "progress"
            and isinstance(e.get("data"), dict)]
    chunks = (len(REPLY) + 6) // 7
    t.ok(len(prog) >= 2, "llm: streamed tokens come as progress events "
         "(%d events)" % len(prog))
    dones = [p.get("done") for p in prog]
    t.ok(dones == sorted(dones), "llm: progress only grows %r" % dones)
    t.like(prog[0].get("message") if prog else "", "llm: ",
           "llm: progress messages name the stream")
    final = task.get("progress") or {}
    t.is_((final.get("done"), final.get("total"), final.get("message")),
          (chunks, chunks, "llm: %d tokens, %d characters (complete)"
           % (chunks, len(REPLY))),
          "llm: the last progress counts every streamed piece")


def llm_plain_json(d, llm):
    body = {"id": "x", "object": "chat.completion", "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content":
                                     "```c\nint one(void) { return 1; }\n"
                                     "```\n```h\nint one(void);\n```\n"
                                     "```c\nint main(void) { return 0; }\n"
                                     "```\n```c\n// unclosed"}}],
            "usage": {"completion_tokens": 17}}
    llm.add({"raw": json.dumps(body)})
    task = gen(d, {"language": "c", "name": "one", "backend": "llm"})
    r = result(task)
    if not succeeded(task, "llm: a non-streamed JSON answer is read"):
        return
    t.is_(r.get("files"), {"one.c": "int one(void) { return 1; }\n",
                           "one.h": "int one(void);\n",
                           "test_one.c": "int main(void) { return 0; }\n",
                           "one_1.c": "// unclosed\n"},
          "llm: unnamed blocks take the default names in order")
    t.is_(r.get("warnings"), [
        "the reply ends inside a code block (was it cut off by "
        "max_tokens?); kept what came",
        "the model stopped at max_tokens: the reply may be cut off"],
        "llm: a cut-off reply is flagged")


def llm_chunked(d, llm):
    llm.add({"content": REPLY, "chunked": True},
            {"raw": json.dumps({"choices": [{"message": {
                "content": RIGHT}}]}), "chunked": True})
    task = gen(d, {"language": "python", "name": "calc", "backend": "llm"})
    if succeeded(task, "llm: a chunked event stream is read"):
        t.is_(result(task).get("files"), REPLY_FILES,
              "llm: the same files through chunked transfer coding")
    task = gen(d, {"language": "python", "name": "calc", "backend": "llm"})
    if succeeded(task, "llm: a chunked JSON answer is read"):
        t.is_(result(task).get("files"),
              {"calc.py": "def add(a, b):\n    return a + b\n"},
              "llm: its file extracted")


def llm_cancel(d, llm):
    llm.add({"content": REPLY, "chunk_delay_s": 0.5})
    tid = d.submit_ok("code.generate", {"language": "python", "name": "c",
                                        "backend": "llm"})
    if not tid:
        return
    # cancel once the answer has started to come
    t.wait_until(lambda: (d.task(tid).get("progress") or {}).get("done"), 10)
    st, _, _ = d.delete("/v1/tasks/%s" % tid)
    task = d.wait_task(tid, 10)
    t.is_((st, task.get("status")), (200, "cancelled"),
          "llm: a task cancelled while the model streams is cancelled")


def llm_errors(d, llm):
    base = {"language": "python", "name": "calc", "backend": "llm"}
    llm.add({"raw": "not json"})
    failed_with(gen(d, base), "llm_bad_reply", "is not JSON",
                "llm: a malformed reply fails the task")
    llm.add({"status": 500, "body": "model crashed"})
    failed_with(gen(d, base), "llm_http_error",
                "the LLM server answered HTTP 500: model crashed",
                "llm: HTTP 500 fails the task")
    llm.add({"delay_s": 3, "content": "```python\nx = 1\n```\n"})
    failed_with(gen(d, base), "llm_timeout",
                "did not answer within 1000 ms",
                "llm: a server slower than llm.timeout_ms fails the task")
    llm.add({"content": "Sorry, I cannot write that."})
    failed_with(gen(d, base), "llm_no_code", "no fenced code block",
                "llm: a reply without code fails the task")


def llm_config_errors(d, llm, cfg):
    base = {"language": "python", "name": "calc", "backend": "llm"}
    for over, code, part, name in [
            ({"api_key_env": BAD_KEY_ENV}, "llm_http_error",
             "HTTP 401 (check the API key in llm.api_key_env)",
             "llm: a wrong key is HTTP 401"),
            ({"api_key_env": UNSET_ENV}, "llm_config",
             "the environment variable %s named by llm.api_key_env is not "
             "set" % UNSET_ENV, "llm: an unset key variable"),
            ({"base_url": None}, "llm_not_configured",
             "needs llm.base_url", "llm: no endpoint configured")]:
        blk = llm_block(**dict({"base_url": llm.base_url}, **over))
        cfg["plugins"]["codegen"] = {"llm": {k: v for k, v in blk.items()
                                             if v is not None}}
        d.set_config(cfg)
        st, _, body = d.reload(wait=True)
        if not t.ok(st == 200, "reload with %r" % over):
            t.diag("    %s %r" % (st, body))
        llm.add({"content": "```python\nx = 1\n```\n"})
        failed_with(gen(d, base), code, part, name)


def llm_https(d, cfg):
    """https:// with the server's certificate as llm.ca_file, then
    without it (the system's CAs do not know it)."""
    tmp = t.tempdir("mcpd-codegen-tls-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    rc, _, err = t.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"])
    if rc != 0:
        t.diag(err)
        return skip(3, "openssl cannot make a test certificate")
    base = {"language": "python", "name": "calc", "backend": "llm"}
    with FakeLLM([{"content": RIGHT}, {"content": RIGHT}], api_key=KEY,
                 tls=(cert, key)) as tls:
        for ca, name in ((cert, "with llm.ca_file"), (None, "without")):
            blk = llm_block(tls.base_url)
            if ca:
                blk["ca_file"] = ca
            cfg["plugins"]["codegen"] = {"llm": blk}
            d.set_config(cfg)
            d.reload(wait=True)
            task = gen(d, base)
            if ca:
                if succeeded(task, "llm over https:// %s" % name):
                    t.is_(result(task).get("files"),
                          {"calc.py": "def add(a, b):\n    return a + b\n"},
                          "llm over https://: the files")
            else:
                failed_with(task, "llm_unreachable",
                            "certificate verify failed",
                            "llm over https:// with an unknown CA fails")


# ------------------------------------------------------------ refine

TESTS = {"test_calc.py": "from calc import add\n\n\ndef test_add():\n"
                         "    assert add(2, 3) == 5\n\n\n"
                         "def test_zero():\n    assert add(0, 0) == 0\n"}
WRONG = "```python calc.py\ndef add(a, b):\n    return a - b\n```\n"
RIGHT = "```python calc.py\ndef add(a, b):\n    return a + b\n```\n"


def refine(d, llm):
    inp = {"language": "python", "name": "calc", "backend": "llm",
           "target": "code", "signature": "def add(a, b)", "tests": TESTS,
           "refine": {"max_iterations": 3,
                      "test_command": "python3 -m pytest -q -p "
                                      "no:cacheprovider"}}
    n0 = len(llm.requests)
    llm.add({"content": WRONG}, {"content": RIGHT})
    task = gen(d, inp, timeout=180)
    r = result(task)
    if not succeeded(task, "refine: succeeded"):
        return
    its = r.get("iterations") or []
    t.is_([(i.get("iteration"), i.get("outcome")) for i in its],
          [(1, "failed"), (2, "passed")],
          "refine: 2 iterations, the first failed, the second passed")
    t.is_((r.get("converged"), r.get("files")),
          (True, {"calc.py": "def add(a, b):\n    return a + b\n"}),
          "refine: converged on the corrected file")
    t.is_([i.get("files") for i in its], [["calc.py"], ["calc.py"]],
          "refine: each iteration names the files written")
    t1 = (its[0].get("test") or {}) if its else {}
    t.is_((t1.get("passed"), t1.get("exit_code")), (False, 1),
          "refine: iteration 1's test outcome is recorded (pytest exit 1)")
    reqs = llm.requests[n0:]
    t.is_(len(reqs), 2, "refine: the model was asked twice")
    msgs = (reqs[1].get("messages") or []) if len(reqs) > 1 else []
    t.is_([m.get("role") for m in msgs],
          ["system", "user", "assistant", "user"],
          "refine: the second request carries the first answer and the "
          "failures")
    fb = msgs[-1].get("content", "") if msgs else ""
    t.like(fb, "The tests failed", "refine: the feedback says so")
    t.like(fb, "assert -1 == 5",
           "refine: the feedback holds pytest's failure output")

    llm.add({"content": WRONG}, {"content": WRONG})
    inp["refine"]["max_iterations"] = 2
    task = gen(d, inp, timeout=180)
    r = result(task)
    if succeeded(task, "refine: an exhausted budget still returns"):
        t.is_(([i.get("outcome") for i in r.get("iterations") or []],
               r.get("converged")), (["failed", "failed"], False),
              "refine: 2 failed iterations, not converged")

    task = gen(d, {"language": "python", "name": "calc",
                   "backend": "template", "signature": "def add(a: int, "
                   "b: int) -> int", "refine": {"max_iterations": 3}},
               timeout=120)
    r = result(task)
    if succeeded(task, "refine with the template backend"):
        t.is_(([(i.get("iteration"), i.get("outcome"))
                for i in r.get("iterations") or []], r.get("converged")),
              ([(1, "passed")], True),
              "refine/template: its tests run once (detected: pytest) "
              "and pass")


import time
T0 = time.monotonic()


def stamp(what):
    t.diag("%.1f s: %s" % (time.monotonic() - T0, what))


def main():
    os.environ[KEY_ENV] = KEY
    os.environ[BAD_KEY_ENV] = "sk-wrong"
    os.environ.pop(UNSET_ENV, None)
    pdir, have = plugin_dir()
    with FakeLLM([], api_key=KEY) as llm:
        cfg = config(llm_block(llm.base_url))
        d = t.Daemon(plugin_dirs=[pdir], config=cfg)
        template_c(d)
        stamp('template_c')
        template_python(d)
        stamp('template_python')
        template_shell(d)
        stamp('template_shell')
        template_tests_for_files(d)
        stamp('template_tests_for_files')
        template_bad_input(d)
        stamp('template_bad_input')
        llm_streaming(d, llm)
        stamp('llm_streaming')
        llm_plain_json(d, llm)
        stamp('llm_plain_json')
        llm_chunked(d, llm)
        llm_cancel(d, llm)
        stamp('llm_chunked, llm_cancel')
        cfg["plugins"]["codegen"] = {"llm": llm_block(llm.base_url,
                                                      timeout_ms=1000)}
        d.set_config(cfg)
        st, _, _ = d.reload(wait=True)
        t.is_(st, 200, "reload with llm.timeout_ms 1000")
        llm_errors(d, llm)
        stamp('llm_errors')
        cfg["plugins"]["codegen"] = {"llm": llm_block(llm.base_url)}
        d.set_config(cfg)
        st, _, _ = d.reload(wait=True)
        t.is_(st, 200, "reload with llm.timeout_ms 5000")
        if SANDBOX and "testing" in have:
            refine(d, llm)
        else:
            t.diag("refine skipped: %s" % ("sandbox under valgrind"
                                          if not SANDBOX else
                                          "testing.so is not built"))
        llm_config_errors(d, llm, cfg)
        llm_https(d, cfg)
        code = d.stop()
        if not t.WRAPPER:  # (stop() checks it under a wrapper)
            t.is_(code, 0, "mcpd exits 0 (no sanitizer report)")
        log = d.log_text(all_runs=True)
        t.ok("runtime error:" not in log and "Sanitizer" not in log,
             "no sanitizer report in mcpd's log")
    t.done_testing()


main()
