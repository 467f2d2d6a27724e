#!/usr/bin/env python3
"""The reload soak in its long form: load generators submit echo and sleep
tasks while plugin files are swapped (1.0.0 <-> 2.0.0 builds) and SIGHUP is
sent every 200 ms, for 30 s by default. Prints the counts; exit 1 if any
acknowledged task did not succeed, any answer was a 5xx, or any request
had a connection error. The short form runs in the test suite
(tests/e2e/test_reload_soak.py); both share tests/e2e/reload_soak.py.

Usage: bench/reload_soak.py [--build DIR] [--seconds S] [--period S]
                            [--generators N]
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--period", type=float, default=0.2)
    ap.add_argument("--generators", type=int, default=4)
    a = ap.parse_args()
    b = os.path.abspath(a.build)
    os.environ.update({
        "MCPD_BIN": os.path.join(b, "core", "mcpd"),
        "MCPD_PLUGIN_DIR": os.path.join(b, "plugins"),
        "MCPD_TEST_PLUGIN_DIR": os.path.join(b, "tests", "plugins"),
    })
    if not os.path.exists(os.path.join(b, "tests", "plugins", "v2",
                                       "echo.so")):
        sys.exit("reload_soak: %s has no test plugins; build it with "
                 "-DMCPD_TESTS=ON" % b)
    import reload_soak
    r = reload_soak.run(a.seconds, a.period, a.generators)
    print(json.dumps(r, indent=2, sort_keys=True))
    bad = (r["outcomes"] != {"succeeded": r["acknowledged"]}
           or r["connection_errors"]
           or any(int(c) >= 500 for c in r["status_codes"])
           or r["exit_code"] != 0)
    print("reload soak: %s -- %d tasks acknowledged, all succeeded: %s; "
          "%d reloads, %d generations retired, %d 5xx, %d connection errors"
          % ("FAIL" if bad else "PASS", r["acknowledged"],
             r["outcomes"] == {"succeeded": r["acknowledged"]}, r["reloads"],
             r["generations_retired"],
             sum(v for c, v in r["status_codes"].items() if int(c) >= 500),
             r["connection_errors"]))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
