#!/usr/bin/env python3
# mcpd-test: no-valgrind (the tools run in sandbox-ns children, whose
# namespaces and seccomp valgrind cannot follow; the daemon side of
# security.scan is covered under ASan, and test_check_command runs under
# valgrind)
"""security.scan through the daemon's REST API, on the fixtures in
tests/fixtures/security (and tests/fixtures/defects when present): the
exact rule, file and line of every finding from bandit, flawfinder,
cppcheck and the built-in secret detector; secrets never echoed; the
SARIF 2.1.0 log; analyzer statuses (skipped with an install hint when a
tool is missing); bad input.
"""

import json
import os

import mcpdtest as t
import sandboxtest as sb

FIX = os.path.join(t.env("MCPD_SOURCE_DIR"), "tests", "fixtures")
SEC = os.path.join(FIX, "security")
DEFECTS = os.path.join(FIX, "defects")

SECRETS = [
    ("secret.github-token", "deploy.env", 2),
    ("secret.stripe-key", "deploy.env", 3),
    ("secret.private-key", "deploy_key.pem", 1),
    ("secret.aws-access-key-id", "settings.py", 4),
    ("secret.aws-secret-access-key", "settings.py", 5),
    ("secret.github-token", "settings.py", 8),
    ("secret.slack-token", "settings.py", 9),
    ("secret.high-entropy-string", "settings.py", 12),
    ("secret.hardcoded-password", "settings.py", 15),
]
# the secret values themselves: none may appear in a result
SECRET_VALUES = [
    "ghp_Zt5Kw2Lq8Vm3Xr9Pn6Yc1Hb4Jd7Fs0Ga3Ue8",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dcQ2",
    "AKIAQ3EGRDJKXW4TZ7PB",
    "q7Zr3LxV0pN7tWk2YhFb9mDsJ4cGe6Ua8RnTi1Ko",
    "ghp_R8mX2kQ9vLp4Tz7Wn3Yb6Hc1Jd5Fg0Se2Au9",
    "xoxb-2048613947-5139274816-Qk7ZpL2mX9vR4tWn8YbHc3Jd",
    "Vh3Qz8Lr1Xp6Tm9Wk2Ny5Bc7Df0Gs4Ja",
    "correct-horse-battery",
]

CODE = [
    ("bandit", "B403", "python/app.py", 3),
    ("bandit", "B404", "python/app.py", 4),
    ("bandit", "B602", "python/app.py", 10),
    ("bandit", "B301", "python/app.py", 14),
    ("bandit", "B506", "python/app.py", 18),
    ("bandit", "B303", "python/app.py", 22),
    ("flawfinder", "FF1013", "c/copy.c", 7),
    ("flawfinder", "FF1001", "c/copy.c", 9),
    ("flawfinder", "FF1016", "c/copy.c", 10),
    ("flawfinder", "FF1044", "c/copy.c", 11),
    ("cppcheck", "arrayIndexOutOfBounds", "c/copy.c", 12),
]


def read(path):
    with open(path) as f:
        return f.read()


def scan(d, inp, timeout=120):
    tid = d.submit_ok("security.scan", inp)
    task = d.wait_task(tid, timeout) if tid else {}
    if task.get("status") != "succeeded":
        t.diag("scan: %s %r" % (task.get("status"), task.get("error")))
        return {}, task
    return task.get("result") or {}, task


def found(res, tools=None):
    return sorted((f["tool"], f["rule"], f["file"], f["line"])
                  for f in res.get("findings", [])
                  if tools is None or f["tool"] in tools)


def status(res):
    return {a["name"]: a["status"] for a in res.get("analyzers", [])}


def secrets(d):
    res, _ = scan(d, {"path": os.path.join(SEC, "secrets")})
    got = sorted((f["rule"], f["file"], f["line"])
                 for f in res.get("findings", [])
                 if f["tool"] == "mcpd-secrets")
    t.is_(got, sorted(SECRETS), "secrets: every planted secret, exact rule "
          "and line")
    text = json.dumps(res)
    leaked = [v for v in SECRET_VALUES if v in text]
    t.is_(leaked, [], "secrets: no secret value appears in the result")
    f = [x for x in res.get("findings", [])
         if x["rule"] == "secret.aws-access-key-id"]
    t.is_((f[0].get("column"), f[0].get("snippet")) if f else None,
          (22, 'AWS_ACCESS_KEY_ID = "AKIA…(20 chars redacted)"'),
          "secrets: column and redacted snippet of the AWS key id")
    t.is_(status(res).get("mcpd-secrets"), "ran", "secrets: detector ran")
    t.is_((status(res).get("bandit"), status(res).get("flawfinder"),
           status(res).get("cppcheck")), ("ran", "skipped", "skipped"),
          "secrets: bandit ran on settings.py; the C analyzers were "
          "skipped (no C files)")
    t.like(next((a.get("reason") for a in res.get("analyzers", [])
                 if a["name"] == "flawfinder"), ""), "no C/C++ files",
           "a skipped analyzer says why")

    res, _ = scan(d, {"path": os.path.join(SEC, "clean")})
    t.is_(found(res, ["mcpd-secrets"]), [],
          "look-alikes (placeholders, env look-ups, hashes, UUIDs, a bare "
          "PEM header) are not secrets")


def code(d):
    files = {p: read(os.path.join(SEC, p))
             for p in ("python/app.py", "c/copy.c")}
    res, _ = scan(d, {"files": files})
    got = found(res, ["bandit", "flawfinder", "cppcheck"])
    t.is_(got, sorted(CODE), "bandit, flawfinder and cppcheck: exact rules "
          "and lines")
    t.is_(status(res), {"bandit": "ran", "flawfinder": "ran",
                        "cppcheck": "ran", "mcpd-secrets": "ran"},
          "every analyzer ran")
    sev = {(f["tool"], f["rule"]): f["severity"]
           for f in res.get("findings", [])}
    t.is_((sev.get(("bandit", "B602")), sev.get(("bandit", "B403")),
           sev.get(("flawfinder", "FF1001")),
           sev.get(("cppcheck", "arrayIndexOutOfBounds"))),
          ("error", "note", "error", "error"),
          "severities are normalized (HIGH -> error, LOW -> note)")
    summ = res.get("summary", {})
    t.is_((summ.get("files"), summ.get("findings")), (2, len(CODE)),
          "summary counts files and findings")

    sarif = res.get("sarif", {})
    t.is_(sarif.get("version"), "2.1.0", "SARIF version 2.1.0")
    runs = {r["tool"]["driver"]["name"]: r for r in sarif.get("runs", [])}
    t.is_(sorted(runs), ["bandit", "cppcheck", "flawfinder", "mcpd-secrets"],
          "one SARIF run per analyzer that ran")
    b602 = [r for r in runs.get("bandit", {}).get("results", [])
            if r.get("ruleId") == "B602"]
    loc = b602[0]["locations"][0]["physicalLocation"] if b602 else {}
    t.is_((loc.get("artifactLocation", {}).get("uri"),
           loc.get("region", {}).get("startLine"),
           b602[0].get("level") if b602 else None),
          ("python/app.py", 10, "error"),
          "SARIF result: uri, line and level of B602")
    t.is_(len(runs.get("mcpd-secrets", {}).get("results", ["x"])), 0,
          "the secret detector's run is present and empty")

    # only the tools asked for
    res, _ = scan(d, {"files": files, "tools": ["flawfinder"]})
    t.is_(sorted({f["tool"] for f in res.get("findings", [])}),
          ["flawfinder"], "tools: [flawfinder] runs only flawfinder")
    t.like(next((a.get("reason") for a in res.get("analyzers", [])
                 if a["name"] == "bandit"), ""), "not selected",
           "unselected analyzers say why they were skipped")


def defects(d):
    if not os.path.isdir(DEFECTS):
        t.diag("tests/fixtures/defects not present: skipping its checks")
        return
    res, _ = scan(d, {"path": DEFECTS})
    got = set(found(res))
    want = {("bandit", "B307", "python/eval_input.py", 8),
            ("bandit", "B106", "python/hardcoded_password.py", 17),
            ("mcpd-secrets", "secret.hardcoded-password",
             "python/hardcoded_password.py", 17),
            ("flawfinder", "FF1001", "c/overflow.c", 22),
            ("cppcheck", "bufferAccessOutOfBounds", "c/overflow.c", 22),
            ("cppcheck", "nullPointer", "c/nullderef.c", 26)}
    missing = sorted(want - got)
    if not t.is_(missing, [], "defects: eval of input, hard-coded password, "
                 "overflow and null dereference found at their lines"):
        t.diag("got: %r" % sorted(got))
    b106 = [f for f in res.get("findings", []) if f["rule"] == "B106"]
    t.ok(b106 and "hunter2" not in b106[0]["message"],
         "bandit's hard-coded password message is redacted (%r)"
         % (b106[0]["message"] if b106 else None))


def missing_tool():
    d = t.Daemon(config=config(tool_names={"bandit": "no-such-bandit"}))
    res, _ = scan(d, {"files": {"a.py": "import pickle\n"}})
    a = next((a for a in res.get("analyzers", []) if a["name"] == "bandit"),
             {})
    t.is_((a.get("status"), a.get("install_hint")),
          ("skipped", "apt-get install python3-bandit"),
          "a missing tool is skipped with its install hint")
    t.like(a.get("reason"), "not installed", "and the reason says so")
    t.is_(res.get("summary", {}).get("findings"), 0,
          "the task still succeeds, with the other analyzers")
    d.stop()


def bad_input(d):
    def fails(inp, word, name):
        tid = d.submit_ok("security.scan", inp)
        task = d.wait_task(tid, 30) if tid else {}
        err = task.get("error") or {}
        good = task.get("status") == "failed" and \
            err.get("code") == "bad_input" and \
            word in (err.get("message") or "")
        if not t.ok(good, name):
            t.diag("    got %s %r" % (task.get("status"), err))
    fails({}, "files", "no files and no path: bad_input naming files")
    fails({"files": {"../x.py": "x = 1\n"}}, "files",
          "a path with ..: bad_input naming files")
    fails({"path": "/etc"}, "path",
          "a path outside allowed_dirs: bad_input naming path")
    fails({"path": os.path.join(SEC, "nope")}, "path",
          "a path that does not exist: bad_input naming path")
    st, _, body = d.submit("security.scan", {"files": {"a.py": 3}})
    t.is_error((st, _, body), 422, "invalid_input",
               "non-string content is 422 invalid_input")


def config(**security):
    block = {"allowed_dirs": [SEC, DEFECTS]}
    block.update(security)
    return {"workers": 2,
            "plugins": {"sandbox-ns": sb.driver_block(run_dir=sb.run_dir()),
                        "security": block},
            "services": {"sandbox": "sandbox-ns"}}


def main():
    d = t.Daemon(config=config())
    if not d.serving("sandbox-ns"):
        d.stop()
        t.skip_all("sandbox-ns is not loaded here")
    secrets(d)
    code(d)
    defects(d)
    bad_input(d)
    d.stop()
    missing_tool()
    t.done_testing()


main()
