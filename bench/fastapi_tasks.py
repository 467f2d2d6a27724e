#!/usr/bin/python3
"""Baseline for the mcpd load benchmark: the same POST /v1/tasks contract,
served by FastAPI on uvicorn, with tasks kept in SQLite and every
acknowledgement durable.

Durability: journal_mode=WAL with synchronous=FULL. In WAL mode FULL syncs
the WAL file on every commit, so a 201 means the row is on disk, which is
mcpd's contract (LMDB commit before 201). NORMAL would skip that sync and
could lose acknowledged tasks on power loss; the DELETE journal with FULL is
durable too but costs several syncs per commit (journal, database,
directory), which would handicap the baseline. WAL+FULL is the fastest
configuration that is still durable, so that is what we measure.

Work per task (FASTAPI_TASKS_MODE):
  split  (default) mirrors mcpd: the task row is inserted as "queued" and
         committed before the 201, which carries the queued task; then echo
         runs (result = input) and a second transaction marks it
         "succeeded". Two durable commits per task, like mcpd's two LMDB
         writes (submit, then completion) -- except that mcpd may fold many
         tasks into one commit per loop iteration, and SQLite here commits
         (and syncs) once per statement group, as a typical service does.
  single inserts the task already finished (status succeeded, result =
         input) in one commit before the 201. One durable commit per task.

All database work runs on the event-loop thread, from async handlers, through
one connection per process: one thread owns the store, as in mcpd.

Run:  /usr/bin/python3 bench/fastapi_tasks.py --port 8000 --db /tmp/t.db
or:   FASTAPI_TASKS_DB=/tmp/t.db uvicorn --app-dir bench fastapi_tasks:app
"""

import argparse
import asyncio
import datetime
import json
import os
import sqlite3
import sys
import time
from typing import Any, Dict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, constr
from starlette.background import BackgroundTask

DB_PATH = os.environ.get("FASTAPI_TASKS_DB", "fastapi_tasks.db")
MODE = os.environ.get("FASTAPI_TASKS_MODE", "split")
SYNC = os.environ.get("FASTAPI_TASKS_SYNC", "FULL").upper()
CAPABILITIES = {"echo"}

if MODE not in ("split", "single"):
    sys.exit("fastapi_tasks: FASTAPI_TASKS_MODE must be split or single")
if SYNC not in ("FULL", "NORMAL", "OFF", "EXTRA"):
    sys.exit("fastapi_tasks: FASTAPI_TASKS_SYNC must be FULL, EXTRA, NORMAL or OFF")


def open_db(path: str) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; we BEGIN/COMMIT.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=10000")  # workers>1 share the file
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        sys.exit(f"fastapi_tasks: journal_mode is {mode}, wanted wal")
    db.execute(f"PRAGMA synchronous={SYNC}")
    db.execute(
        """CREATE TABLE IF NOT EXISTS tasks (
             id          TEXT PRIMARY KEY,
             capability  TEXT NOT NULL,
             input       TEXT NOT NULL,
             status      TEXT NOT NULL,
             result      TEXT,
             created_at  TEXT NOT NULL,
             finished_at TEXT
           )"""
    )
    return db


DB: sqlite3.Connection = None  # opened at startup, in each worker process
SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def new_id() -> str:
    """128-bit time-ordered id, 32 hex digits: 48-bit ms clock, 80 random bits."""
    ms = time.time_ns() // 1_000_000
    return f"{ms & 0xFFFFFFFFFFFF:012x}" + os.urandom(10).hex()


def now_iso() -> str:
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def error(status: int, code: str, message: str, details: Dict[str, Any] = None):
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status_code=status,
    )


def links(task_id: str) -> Dict[str, str]:
    return {"self": f"/v1/tasks/{task_id}", "events": f"/v1/tasks/{task_id}/events"}


app = FastAPI(title="fastapi_tasks (mcpd benchmark baseline)")


@app.on_event("startup")
async def startup() -> None:
    global DB
    DB = open_db(DB_PATH)
    print(
        json.dumps(
            {
                "msg": "fastapi_tasks ready",
                "pid": os.getpid(),
                "db": DB_PATH,
                "journal_mode": DB.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": SYNC_NAMES.get(
                    DB.execute("PRAGMA synchronous").fetchone()[0]),
                "mode": MODE,
                "sqlite": sqlite3.sqlite_version,
                "loop": type(asyncio.get_running_loop()).__module__,
            }
        ),
        file=sys.stderr,
        flush=True,
    )


class TaskIn(BaseModel):
    capability: constr(min_length=1)
    input: Dict[str, Any] = {}


def is_json(request: Request) -> bool:
    ctype = request.headers.get("content-type", "")
    return ctype.split(";")[0].strip().lower() == "application/json"


@app.exception_handler(RequestValidationError)
async def on_validation_error(request: Request, exc: RequestValidationError):
    if not is_json(request):
        return error(415, "unsupported_media_type",
                     "body needs Content-Type: application/json")
    errs = exc.errors()
    if any(e.get("type") == "value_error.jsondecode" for e in errs):
        return error(400, "invalid_json", "body is not JSON")
    first = errs[0] if errs else {}
    path = "/" + "/".join(str(p) for p in first.get("loc", ())[1:])
    return error(422, "invalid_input", first.get("msg", "invalid input"),
                 {"path": path, "reason": first.get("msg", "")})


async def finish_echo(task_id: str, input_json: str) -> None:
    """The echo capability: result = input, stored in its own transaction."""
    DB.execute("BEGIN IMMEDIATE")
    try:
        DB.execute(
            "UPDATE tasks SET status='succeeded', result=?, finished_at=? WHERE id=?",
            (input_json, now_iso(), task_id),
        )
        DB.execute("COMMIT")
    except BaseException:
        DB.execute("ROLLBACK")
        raise


@app.post("/v1/tasks", status_code=201)
async def submit(body: TaskIn, request: Request):
    if not is_json(request):
        return error(415, "unsupported_media_type",
                     "body needs Content-Type: application/json")
    if body.capability not in CAPABILITIES:
        return error(404, "unknown_capability", f"no capability {body.capability}")

    task_id = new_id()
    created = now_iso()
    input_json = json.dumps(body.input, separators=(",", ":"))
    task = {"id": task_id, "capability": body.capability, "input": body.input,
            "created_at": created}
    DB.execute("BEGIN IMMEDIATE")
    try:
        if MODE == "single":
            DB.execute(
                "INSERT INTO tasks (id, capability, input, status, result,"
                " created_at, finished_at) VALUES (?,?,?,?,?,?,?)",
                (task_id, body.capability, input_json, "succeeded", input_json,
                 created, created),
            )
        else:
            DB.execute(
                "INSERT INTO tasks (id, capability, input, status, created_at)"
                " VALUES (?,?,?,?,?)",
                (task_id, body.capability, input_json, "queued", created),
            )
        DB.execute("COMMIT")  # WAL + synchronous=FULL: fsync'd here
    except sqlite3.Error as e:
        DB.execute("ROLLBACK")
        return error(500, "store_error", str(e))

    if MODE == "single":
        task.update(status="succeeded", result=body.input, finished_at=created)
        background = None
    else:
        task["status"] = "queued"
        background = BackgroundTask(finish_echo, task_id, input_json)
    task["links"] = links(task_id)
    return JSONResponse(task, status_code=201,
                        headers={"Location": f"/v1/tasks/{task_id}"},
                        background=background)


def row_to_task(row, full: bool) -> Dict[str, Any]:
    task_id, capability, input_json, status, result, created, finished = row
    t = {"id": task_id, "capability": capability, "status": status,
         "created_at": created}
    if finished:
        t["finished_at"] = finished
    if full:
        t["input"] = json.loads(input_json)
        if result is not None:
            t["result"] = json.loads(result)
    t["links"] = links(task_id)
    return t


COLS = "id, capability, input, status, result, created_at, finished_at"


@app.get("/v1/tasks/{task_id}")
async def get_task(task_id: str):
    row = DB.execute(f"SELECT {COLS} FROM tasks WHERE id=?", (task_id,)).fetchone()
    if row is None:
        return error(404, "not_found", f"no task {task_id}")
    return JSONResponse(row_to_task(row, True))


@app.get("/v1/tasks")
async def list_tasks(limit: int = 50, status: str = None, capability: str = None):
    if not 1 <= limit <= 1000:
        return error(400, "bad_request", "limit must be from 1 to 1000")
    where, args = [], []
    if status:
        where.append("status=?")
        args.append(status)
    if capability:
        where.append("capability=?")
        args.append(capability)
    sql = f"SELECT {COLS} FROM tasks"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    rows = DB.execute(sql, (*args, limit)).fetchall()
    return JSONResponse({"tasks": [row_to_task(r, False) for r in rows],
                         "next_cursor": None})


@app.get("/healthz")
async def healthz():
    return JSONResponse({"status": "ok"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--db", default=DB_PATH)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--mode", choices=("split", "single"), default=MODE)
    ap.add_argument("--synchronous", default=SYNC,
                    choices=("FULL", "EXTRA", "NORMAL", "OFF"))
    ap.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop"))
    ap.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"))
    a = ap.parse_args()
    # Worker processes import this module afresh: configure them by env.
    os.environ["FASTAPI_TASKS_DB"] = a.db
    os.environ["FASTAPI_TASKS_MODE"] = a.mode
    os.environ["FASTAPI_TASKS_SYNC"] = a.synchronous
    import uvicorn

    uvicorn.run("fastapi_tasks:app", app_dir=os.path.dirname(os.path.abspath(__file__)),
                host=a.host, port=a.port, workers=a.workers, access_log=False,
                loop=a.loop, http=a.http,
                log_level="warning")


if __name__ == "__main__":
    main()
