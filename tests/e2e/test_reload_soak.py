#!/usr/bin/env python3
"""The reload soak in its short form (MCPD_SOAK_SECONDS, default 4 s):
tasks keep coming while plugin files are swapped and SIGHUP sent every
200 ms; every acknowledged task succeeds, no 5xx, no connection error.
The long form is bench/reload_soak.py."""

import os

import mcpdtest as t
import reload_soak


def main():
    seconds = float(os.environ.get("MCPD_SOAK_SECONDS", "4"))
    r = reload_soak.run(seconds)
    t.diag("soak: %s" % r)
    t.ok(r["acknowledged"] > 50, "tasks were acknowledged (%d)"
         % r["acknowledged"])
    t.is_(r["outcomes"], {"succeeded": r["acknowledged"]},
          "every acknowledged task succeeded")
    t.is_(r["connection_errors"], 0, "no connection errors")
    t.ok(all(c < 500 for c in r["status_codes"]),
         "no 5xx answers: %s" % r["status_codes"])
    t.ok(r["reloads"] >= r["swaps"] // 2,
         "reloads ran (%d for %d swaps)" % (r["reloads"], r["swaps"]))
    t.ok(r["generations_retired"] >= r["reloads"],
         "old generations were retired (%d)" % r["generations_retired"])
    t.is_(r["still_draining"], 0, "nothing is left draining")
    t.is_(r["exit_code"], 0, "the daemon stopped cleanly")
    t.done_testing()


if __name__ == "__main__":
    main()
