#!/usr/bin/env python3
"""C functions as tools: a "functions" manifest in the config exposes libm
and libc functions, and the ffi_funcs test plugin declares its own with
host->function_add. Over REST: results computed by the real C code,
schemas derived from the signatures, 422 with the parameter named for
out-of-range, wrong-type, missing and unknown arguments; a bad manifest
is refused with the precise reason at start (GET /v1/plugins) and at
reload (422, the old functions keep serving); a changed manifest makes a
new generation that adds and removes functions while a running call
finishes on the old one."""

import json
import math
import os
import random
import shutil

import mcpdtest as t

TEST_PLUGINS = t.env("MCPD_TEST_PLUGIN_DIR")
BIN = t.env("MCPD_BIN")

MANIFEST = [
    {"library": "libm.so.6", "symbol": "hypot",
     "signature": "double hypot(double x, double y)",
     "description": "Euclidean distance"},
    {"library": "libm.so.6", "symbol": "pow",
     "signature": "double pow(double x, double y)"},
    {"library": "libm.so.6", "symbol": "floor",
     "signature": "double floor(double x)"},
    {"library": "libc.so.6", "symbol": "strlen",
     "signature": "size_t strlen(const char *s)"},
    {"library": "libc.so.6", "symbol": "abs", "signature": "int abs(int j)"},
    {"library": "libc.so.6", "symbol": "atoi", "name": "c.atoi",
     "signature": "int atoi(const char *nptr)"},
    {"library": "libc.so.6", "symbol": "usleep",
     "signature": "int usleep(unsigned int usec)"},
]


def capabilities(d):
    st, _, body = d.get("/v1/capabilities")
    caps = body.get("capabilities", []) if isinstance(body, dict) else []
    return {c.get("name"): c for c in caps}


def call(d, cap, inp):
    """Submit and wait: the final task ({} when the submit failed)."""
    st, _, body = d.submit(cap, inp)
    if st != 201:
        t.diag("submit %s %r: %s %r" % (cap, inp, st, body))
        return {}
    return d.wait_task(body.get("id"), 20)


def result(d, cap, inp):
    task = call(d, cap, inp)
    if task.get("status") != "succeeded":
        t.diag("%s %r: %r" % (cap, inp, task.get("error")))
        return "<%s>" % task.get("status")
    return task.get("result")


def refused_input(d, cap, inp, path, words, name):
    """A 422 invalid_input whose details.path is `path`."""
    st, _, body = d.submit(cap, inp)
    if not t.is_error((st, None, body), 422, "invalid_input", name):
        return
    det = body["error"].get("details", {})
    t.is_(det.get("path"), path, name + ": details.path")
    t.like(det.get("reason", ""), words, name + ": details.reason")


def test_listing(d):
    t.diag("test_listing")
    rec = d.serving("functions")
    t.is_(rec.get("file"), "config:functions",
          "the manifest is served by the record \"functions\"")
    t.is_(sorted(rec.get("capabilities", [])),
          sorted(e.get("name", e["symbol"]) for e in MANIFEST),
          "one capability per entry, named by \"name\" or the symbol")
    t.is_(rec.get("generation"), 1, "generation 1")
    caps = capabilities(d)
    h = caps.get("hypot", {})
    t.is_(h.get("input_schema"), {
        "type": "object", "additionalProperties": False,
        "required": ["x", "y"],
        "properties": {"x": {"type": "number", "description": "double"},
                       "y": {"type": "number", "description": "double"}}},
        "hypot's input schema comes from its signature")
    t.is_(h.get("output_schema"), {
        "type": "object", "additionalProperties": False,
        "required": ["result"],
        "properties": {"result": {"type": "number",
                                  "description": "double"}}},
        "and its output schema")
    t.is_((h.get("title"), h.get("description"), h.get("blocking")),
          ("double hypot(double x, double y)", "Euclidean distance", True),
          "title is the signature; description; runs on a worker")
    t.is_(caps.get("usleep", {}).get("input_schema", {}).get("properties"),
          {"usec": {"type": "integer", "minimum": 0, "maximum": 4294967295,
                    "description": "unsigned int"}},
          "unsigned int: exact bounds")
    w = caps.get("ffi_widen", {}).get("input_schema", {})
    t.is_(w.get("properties", {}).get("x"),
          {"type": "integer", "minimum": -128, "maximum": 127,
           "description": "int8_t"}, "the plugin's int8_t: -128..127")
    t.ok("ffi.lines" in caps and "ffi_parse" in caps,
         "the plugin's functions are capabilities, named as declared")


def test_calls(d):
    t.diag("test_calls")
    rnd = random.Random(os.getpid())
    for _ in range(3):
        x, y = rnd.uniform(-1e3, 1e3), rnd.uniform(-1e3, 1e3)
        got = result(d, "hypot", {"x": x, "y": y})
        t.ok(isinstance(got, dict) and
             math.isclose(got.get("result", 0), math.hypot(x, y),
                          rel_tol=1e-15),
             "hypot(%g, %g) = %r" % (x, y, got))
    b, e = rnd.randint(2, 9), rnd.randint(2, 20)
    t.is_(result(d, "pow", {"x": b, "y": e}), {"result": float(b ** e)},
          "pow(%d, %d)" % (b, e))
    v = rnd.uniform(-100, 100)
    t.is_(result(d, "floor", {"x": v}), {"result": float(math.floor(v))},
          "floor(%g)" % v)
    s = "h\u00e9llo w\u00f6rld %d" % rnd.randint(0, 10 ** 6)
    t.is_(result(d, "strlen", {"s": s}), {"result": len(s.encode())},
          "strlen counts bytes of the UTF-8 string")
    n = -rnd.randint(1, 2 ** 31 - 1)
    t.is_(result(d, "abs", {"j": n}), {"result": -n}, "abs(%d)" % n)
    t.is_(result(d, "c.atoi", {"nptr": "%dabc" % -n}), {"result": -n},
          "atoi, exposed under the name c.atoi")
    t.is_(result(d, "usleep", {"usec": 1000}), {"result": 0}, "usleep")

    # The test plugin's functions: json_t * and const char * in and out.
    text = "".join("line %d\n" % i for i in range(rnd.randint(1, 9)))
    t.is_(result(d, "ffi.lines", {"text": text + "tail"}),
          {"result": text.count("\n") + 1}, "ffi.lines")
    doc = {"a": [1, 2, {"b": None}], "c": "d"}
    t.is_(result(d, "ffi_parse", {"s": json.dumps(doc)}), {"result": doc},
          "a json_t * result: the parsed document")
    t.is_(result(d, "ffi_parse", {"s": "{not json"}), {"result": None},
          "a NULL json_t * result is null")
    inp = {"value": {"k": [1, 2]}, "label": "x"}
    task = call(d, "ffi_tag", inp)
    t.is_(task.get("result"), {"result": {"k": [1, 2], "tagged": "x"}},
          "a json_t * argument, changed by the function")
    t.is_(task.get("input"), inp, "...which never changes the task's input")
    t.is_(result(d, "ffi_size", {"value": list(range(7))}), {"result": 7},
          "a const json_t * argument")
    t.is_(result(d, "ffi_greeting", {"formal": True}),
          {"result": "Good day"}, "a const char * result, copied")
    t.is_(result(d, "ffi_nothing_found", {"key": 1}), {"result": None},
          "a NULL const char * result is null")
    a, b = rnd.randint(128, 255), rnd.randint(128, 255)
    t.is_(result(d, "ffi_add_u8", {"a": a, "b": b}),
          {"result": (a + b) % 256}, "uint8_t arithmetic wraps in C")
    t.is_(result(d, "ffi_neg16", {"x": -32768}), {"result": -32768},
          "short -(-32768) wraps")
    t.is_(result(d, "ffi_u32_add", {"a": 2 ** 32 - 1, "b": 2 ** 32 - 1}),
          {"result": 2 ** 33 - 2}, "uint32_t extremes")
    t.is_(result(d, "ffi_half", {"x": 3}), {"result": 1.5}, "float")
    t.is_(result(d, "ffi_u64_max", {}), {"result": float(2 ** 64)},
          "a uint64_t above INT64_MAX comes back as a real")
    t.is_(result(d, "ffi_touch", {}), {}, "a void function: {}")
    t.is_(result(d, "ffi_is_even", {"n": -2 ** 63}), {"result": True},
          "bool result, int64_t minimum")
    t.is_(result(d, "ffi_first", {"s": "A"}), {"result": 65},
          "char is an integer")
    args = {"a": 2 ** 62 + 12345, "b": -128, "c": 2.5, "d": 65535,
            "e": 1.5, "f": -100000, "g": True, "h": "xyz"}
    want = args["a"] + (-128 + 200) + 2 + 65535 + 1 + (-100000 + 100000) \
        + 10 ** 6 + len("xyz")
    t.is_(result(d, "ffi_mix", args), {"result": want},
          "eight parameters of eight types")
    task = call(d, "ffi_inverse", {"x": 0})
    t.is_((task.get("status"), (task.get("error") or {}).get("code")),
          ("failed", "bad_result"), "1/0 = inf is not JSON: the task fails")
    t.like((task.get("error") or {}).get("message", ""), "returned inf",
           "...saying why")


def test_bad_input(d):
    t.diag("test_bad_input")
    refused_input(d, "ffi_widen", {"x": 300}, "/x", "127",
                  "int8_t 300: 422")
    refused_input(d, "ffi_widen", {"x": -129}, "/x", "-128",
                  "int8_t -129: 422")
    refused_input(d, "ffi_u32_add", {"a": 1, "b": -1}, "/b", "0",
                  "uint32_t -1: 422")
    refused_input(d, "ffi_u32_add", {"a": 2 ** 32, "b": 1}, "/a",
                  "4294967295", "uint32_t 2^32: 422")
    refused_input(d, "usleep", {"usec": -1}, "/usec", "0",
                  "unsigned int -1: 422")
    refused_input(d, "hypot", {"x": "3", "y": 4}, "/x", "number",
                  "a string for a double: 422")
    refused_input(d, "abs", {"j": 1.5}, "/j", "integer",
                  "a fraction for an int: 422")
    refused_input(d, "strlen", {"s": 5}, "/s", "string",
                  "a number for a const char *: 422")
    refused_input(d, "ffi_greeting", {"formal": 1}, "/formal", "boolean",
                  "a number for a bool: 422")
    refused_input(d, "hypot", {"x": 3}, "", "\"y\"",
                  "a missing parameter: 422 naming it")
    refused_input(d, "hypot", {"x": 3, "y": 4, "z": 5}, "", "\"z\"",
                  "an unknown parameter: 422 naming it")
    refused_input(d, "ffi_half", {"x": 1e39}, "/x", "",
                  "1e39 for a float: 422")
    # 2^63 as a real: the validator compares in long double, which
    # valgrind computes as a double (so 2^63 == INT64_MAX there); then
    # the call-time check refuses it, naming the parameter.
    st, _, body = d.submit("ffi_is_even", {"n": 2 ** 63 + 10.0})
    if st == 201:
        fin = d.wait_task(body.get("id"), 20)
        t.is_((fin.get("status"), (fin.get("error") or {}).get("code")),
              ("failed", "invalid_input"),
              "above int64_t: refused at call time")
        t.like((fin.get("error") or {}).get("message", ""),
               "parameter \"n\": must be an integer from", "...naming it")
    else:
        refused_input(d, "ffi_is_even", {"n": 2 ** 63 + 10.0}, "/n", "",
                      "above int64_t: 422")


def bad_reload(d, cfg, entry, reason, name):
    manifest = list(MANIFEST) + [entry]
    d.set_config(dict(cfg, functions=manifest))
    st, _, body = d.reload()
    if not t.is_error((st, None, body), 422, "reload_failed", name):
        return
    errs = body["error"].get("details", {}).get("errors", [])
    t.is_(errs, [{"file": "config",
                  "reason": reason % {"i": len(manifest) - 1}}],
          name + ": the precise reason")


def test_reload(d, cfg):
    t.diag("test_reload")
    bad_reload(d, cfg, {"library": "libnope.so", "symbol": "f",
                        "signature": "int f(int x)"},
               "functions[%(i)d]: libnope.so: cannot open shared object "
               "file: No such file or directory", "no such library")
    bad_reload(d, cfg, {"library": "libm.so.6", "symbol": "hypotx",
                        "signature": "double hypotx(double x, double y)"},
               "functions[%(i)d]: no symbol \"hypotx\" in libm.so.6",
               "no such symbol")
    bad_reload(d, cfg, {"library": "libm.so.6", "symbol": "sqrt",
                        "signature": "double sqrt(double)"},
               "functions[%(i)d]: bad signature \"double sqrt(double)\": "
               "parameter 1: type \"double\" has no name",
               "an unnamed parameter")
    bad_reload(d, cfg, {"library": "libc.so.6", "symbol": "memset",
                        "signature": "void memset(int *s, int c, size_t n)"},
               "functions[%(i)d]: bad signature \"void memset(int *s, int "
               "c, size_t n)\": parameter 1 (\"s\"): type \"int *\" is not "
               "supported", "an unsupported type")
    d.set_config(dict(cfg, functions=[{"library": "libm.so.6"}]))
    st, _, body = d.reload()
    t.is_error((st, None, body), 422, "reload_failed",
               "a manifest entry without symbol is a config error")
    t.is_(body.get("error", {}).get("details", {}).get("errors"),
          [{"file": "config",
            "reason": "config: functions[0]: missing \"symbol\""}],
          "...naming the entry and the member")
    rec = d.serving("functions")
    t.is_(rec.get("generation"), 1, "after failed reloads generation 1 serves")
    t.is_(result(d, "hypot", {"x": 6, "y": 8}), {"result": 10.0},
          "and the old functions keep serving")

    # A call running on generation 1 while the manifest changes.
    st, _, body = d.submit("usleep", {"usec": 1500000})
    slow = body.get("id") if st == 201 else None
    t.ok(d.wait_status(slow, ("running",), 10), "a slow usleep runs")
    manifest = [e for e in MANIFEST if e["symbol"] != "floor"] + [
        {"library": "libm.so.6", "symbol": "cbrt",
         "signature": "double cbrt(double x)"}]
    d.set_config(dict(cfg, functions=manifest))
    st, _, body = d.reload()
    t.is_(st, 200, "a changed manifest reloads")
    t.is_([(x.get("name"), x.get("generation")) for x in body.get("loaded",
                                                                  [])],
          [("functions", 2)], "as generation 2 of \"functions\"")
    t.is_([(x.get("name"), x.get("generation"))
           for x in body.get("retiring", [])], [("functions", 1)],
          "generation 1 retires")
    old = [p for p in d.plugin_records("functions")
           if p.get("status") == "draining"]
    t.is_([p.get("in_flight") for p in old], [1],
          "generation 1 drains with the usleep in flight")
    caps = capabilities(d)
    t.ok("cbrt" in caps and "floor" not in caps,
         "cbrt is added, floor is gone")
    v = random.Random(os.getpid()).randint(2, 1000)
    got = result(d, "cbrt", {"x": float(v ** 3)})
    t.ok(isinstance(got, dict) and
         math.isclose(got.get("result", 0), v, rel_tol=1e-15),
         "cbrt(%d) = %r" % (v ** 3, got))
    st, _, body = d.submit("floor", {"x": 1.5})
    t.is_error((st, None, body), 404, "unknown_capability",
               "floor is no longer served")
    fin = d.wait_task(slow, 20)
    t.is_((fin.get("status"), fin.get("result")),
          ("succeeded", {"result": 0}),
          "the running usleep finished on generation 1")
    t.ok(t.wait_until(lambda: len(d.plugin_records("functions")) == 1, 10),
         "then generation 1 is retired")

    st, _, body = d.reload()
    t.is_((st, body.get("loaded")), (200, []),
          "an unchanged manifest is kept as it is")

    d.set_config(dict(cfg))  # no functions at all
    st, _, body = d.reload()
    t.is_(st, 200, "a reload without a manifest succeeds")
    t.ok(t.wait_until(lambda: not d.plugin_records("functions"), 10),
         "the record is gone")
    st, _, body = d.submit("hypot", {"x": 1, "y": 1})
    t.is_error((st, None, body), 404, "unknown_capability",
               "and its functions are no longer served")
    t.is_(result(d, "ffi_half", {"x": 5}), {"result": 2.5},
          "the plugin's functions still are")

    d.set_config(dict(cfg, functions=MANIFEST))
    st, _, body = d.reload()
    t.is_(st, 200, "the manifest comes back")
    t.is_(d.serving("functions").get("generation"), 3, "as generation 3")
    t.is_(result(d, "floor", {"x": -0.5}), {"result": -1.0}, "floor again")


def test_startup_refusal(plugin_dir):
    t.diag("test_startup_refusal")
    manifest = [MANIFEST[0], {"library": "libm.so.6", "symbol": "hypotx",
                              "signature": "double h(double x, double y)"}]
    d = t.Daemon(plugin_dirs=[plugin_dir], config={"functions": manifest})
    rec = d.plugin_records("functions")
    t.is_([(r.get("status"), r.get("reason")) for r in rec],
          [("refused", "functions[1]: no symbol \"hypotx\" in libm.so.6")],
          "a bad entry refuses the whole manifest at start, with the reason")
    st, _, body = d.submit("hypot", {"x": 1, "y": 1})
    t.is_error((st, None, body), 404, "unknown_capability",
               "none of its functions is served")
    t.is_(result(d, "ffi_half", {"x": 1}), {"result": 0.5},
          "the daemon serves the rest")
    st, _, body = d.reload()
    t.is_((st, body.get("loaded")), (200, []),
          "an unchanged refused manifest is kept (like an unchanged file)")
    d.set_config({"functions": manifest[:1]})
    st, _, body = d.reload()
    t.is_(st, 200, "fixing the manifest and reloading loads it")
    t.is_(result(d, "hypot", {"x": 5, "y": 12}), {"result": 13.0},
          "hypot is served")
    t.is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")

    cfg = t.write_config({"functions": [{"library": "libm.so.6",
                                         "symbol": "floor",
                                         "signature": 5}]})
    rc, _, err = t.run([BIN, "--config", cfg, "--listen", "127.0.0.1:0",
                        "--state-dir", t.tempdir()], timeout=20)
    t.ok(rc not in (0, -1), "a malformed manifest stops start-up (%d)" % rc)
    t.like(err, "config: functions[0].signature: must be a non-empty string",
           "naming the entry and member")


def main():
    work = t.tempdir()
    pdir = os.path.join(work, "plugins")
    os.mkdir(pdir)
    shutil.copyfile(os.path.join(TEST_PLUGINS, "ffi_funcs.so"),
                    os.path.join(pdir, "ffi_funcs.so"))
    shutil.copyfile(os.path.join(TEST_PLUGINS, "ffi_bad.so"),
                    os.path.join(pdir, "ffi_bad.so"))
    cfg = {"drain_timeout_ms": 20000}
    d = t.Daemon(plugin_dirs=[pdir], config=dict(cfg, functions=MANIFEST))
    bad = d.plugin_records("ffi_bad")
    t.is_([(p.get("status"), p.get("reason")) for p in bad],
          [("refused", "init failed: function \"ffi_bad.fill\": bad "
            "signature \"int ffi_bad_fill(int *buf)\": parameter 1 "
            "(\"buf\"): type \"int *\" is not supported")],
          "a plugin declaring an unsupported signature is refused, saying why")
    t.ok("ffi_bad.ok" not in capabilities(d),
         "and none of its functions is served")
    test_listing(d)
    test_calls(d)
    test_bad_input(d)
    test_reload(d, cfg)
    t.is_(d.stop(), 0, "mcpd exits 0 on SIGTERM")
    os.remove(os.path.join(pdir, "ffi_bad.so"))
    test_startup_refusal(pdir)
    t.done_testing()


if __name__ == "__main__":
    main()
