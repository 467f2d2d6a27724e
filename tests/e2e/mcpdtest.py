"""Helpers for mcpd's end-to-end tests: a TAP emitter and a Daemon that
starts the real mcpd on a free loopback port with its own state directory.

Environment (set by tests/CMakeLists.txt):
  MCPD_BIN, MCPCTL_BIN, MCPD_PLUGIN_DIR, MCPD_TEST_PLUGIN_DIR,
  MCPD_SOURCE_DIR, MCPD_BUILD_DIR
  MCPD_TEST_WRAPPER  optional command prefix for the daemon, e.g.
                     "valgrind --leak-check=full --error-exitcode=99
                     --errors-for-leak-kinds=definite"; waits get longer
                     and stop() reports the exit code as a test.

Every wait is bounded; everything listens on 127.0.0.1; temporary
directories are removed at exit (kept, and named, when a test failed).
"""

import atexit
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HOST = "127.0.0.1"
WRAPPER = shlex.split(os.environ.get("MCPD_TEST_WRAPPER", ""))
# Under valgrind everything is some ten times slower.
SLOW = 6.0 if WRAPPER else 1.0
START_TIMEOUT = 60.0 if WRAPPER else 10.0
FINAL = ("succeeded", "failed", "cancelled", "timed_out")


def env(name):
    """A required environment variable; skips the whole file when absent."""
    v = os.environ.get(name)
    if not v:
        skip_all("%s is not set (run through ctest)" % name)
    return v


# ---------------------------------------------------------------- TAP

class _Tap:
    def __init__(self):
        self.run = 0
        self.failed = 0
        self.planned = None
        self.done = False


_tap = _Tap()


def _out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def plan(n):
    _tap.planned = n
    _out("1..%d" % n)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        _out("# " + line)


def ok(cond, name=""):
    _tap.run += 1
    if not cond:
        _tap.failed += 1
    _out("%sok %d - %s" % ("" if cond else "not ", _tap.run, name))
    if not cond:
        caller = sys._getframe(1)
        while caller and caller.f_code.co_filename == __file__:
            caller = caller.f_back
        if caller:
            diag("  failed at %s:%d" % (os.path.basename(
                caller.f_code.co_filename), caller.f_lineno))
    return bool(cond)


def is_(got, expected, name=""):
    if ok(got == expected, name):
        return True
    diag("         got: %r" % (got,))
    diag("    expected: %r" % (expected,))
    return False


def like(text, part, name=""):
    """`part` occurs in `text` (case-insensitive)."""
    good = isinstance(text, str) and part.lower() in text.lower()
    if not ok(good, name):
        diag("    %r does not contain %r" % (text, part))
    return good


def skip_all(reason):
    _out("1..0 # SKIP %s" % reason)
    _tap.done = True
    sys.exit(0)


def failed():
    return _tap.failed > 0


def done_testing():
    if _tap.planned is None:
        plan(_tap.run)
    elif _tap.planned != _tap.run:
        diag("planned %d tests but ran %d" % (_tap.planned, _tap.run))
        _tap.failed += 1
    _tap.done = True
    _cleanup()
    sys.exit(1 if _tap.failed else 0)


def _excepthook(etype, value, tb):
    import traceback
    diag("".join(traceback.format_exception(etype, value, tb)))
    ok(False, "test script died: %s: %s" % (etype.__name__, value))
    if _tap.planned is None:
        plan(_tap.run)
    _tap.done = True
    _cleanup()
    sys.exit(1)


sys.excepthook = _excepthook


# ---------------------------------------------------------------- helpers

_tmpdirs = []
_daemons = []


def tempdir(prefix="mcpd-e2e-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def _cleanup():
    for d in list(_daemons):
        d.kill(signal.SIGKILL, quiet=True)
    for d in list(_daemons):
        if failed():
            d.dump_log()
    for t in _tmpdirs:
        if failed() and os.environ.get("MCPD_TEST_KEEP"):
            diag("kept %s" % t)
            continue
        shutil.rmtree(t, ignore_errors=True)
    _tmpdirs.clear()


atexit.register(_cleanup)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def closed_port():
    """A port nothing listens on (bound then closed: connect is refused)."""
    return free_port()


def write_config(cfg, directory=None):
    """Write a config dict as a JSON file; return its path."""
    d = directory or tempdir()
    path = os.path.join(d, "mcpd-%s.json" % uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def http_request(port, method, path, body=None, headers=None, timeout=30.0):
    """One request on a fresh connection -> (status, headers, body).

    `body` may be a dict/list (sent as JSON with the JSON content type
    unless headers say otherwise), str or bytes (sent as is). Response
    headers come as a dict with lower-case names; the body is parsed JSON
    when it parses, else text.
    """
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            if not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout * SLOW)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        rh = {k.lower(): v for k, v in r.getheaders()}
        return r.status, rh, _parse(raw)
    finally:
        conn.close()


def _parse(raw):
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def error_code(body):
    """The error code of an mcpd error body, or None."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return None


def is_error(resp, status, code, name):
    """Check a response is the JSON error `code` with `status`."""
    st, hdrs, body = resp
    good = st == status and error_code(body) == code
    if good and isinstance(body, dict):
        e = body["error"]
        good = isinstance(e.get("message"), str) and isinstance(
            e.get("details", {}), dict)
    if not ok(good, name):
        diag("    got %s %r" % (st, body))
        diag("    expected %s with code %r" % (status, code))
    return good


def replace_file(src, dst):
    """Replace dst with a copy of src atomically, as an operator's
    install would (a reader sees the old file or the new one)."""
    tmp = dst + ".new"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def wait_until(fn, timeout, interval=0.05):
    """Call fn until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- daemon

class Daemon:
    """The real mcpd on 127.0.0.1:<free port>.

    plugin_dirs defaults to [MCPD_PLUGIN_DIR]; config is a dict written to
    a temp file and passed with --config; state_dir defaults to a fresh
    temp dir (pass one to restart on the same state).
    """

    def __init__(self, plugin_dirs=None, config=None, state_dir=None,
                 extra_args=(), start=True):
        self.bin = env("MCPD_BIN")
        self.plugin_dirs = list(plugin_dirs or [env("MCPD_PLUGIN_DIR")])
        self.dir = tempdir()
        self.state_dir = state_dir or os.path.join(self.dir, "state")
        self.config = config
        self.config_path = write_config(config, self.dir) if config else None
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.logs = []
        self.exit_code = None
        if start:
            self.start()

    # -- lifecycle

    def argv(self):
        a = WRAPPER + [self.bin, "--listen", "%s:%d" % (HOST, self.port),
                       "--state-dir", self.state_dir]
        for d in self.plugin_dirs:
            a += ["--plugin-dir", d]
        if self.config_path:
            a += ["--config", self.config_path]
        return a + self.extra_args

    def start(self):
        """Start (or start again, on the same state dir and a new port)."""
        self.port = free_port()
        self.exit_code = None
        log = os.path.join(self.dir, "stderr-%d.log" % len(self.logs))
        self.logs.append(log)
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err)
        _daemons.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                self.dump_log()
                raise RuntimeError("mcpd exited with %d at startup"
                                   % self.proc.returncode)
            try:
                st, _, _ = http_request(self.port, "GET", "/healthz",
                                        timeout=2)
                if st == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        self.dump_log()
        self.kill(signal.SIGKILL)
        raise RuntimeError("mcpd did not answer /healthz within %.0f s"
                           % START_TIMEOUT)

    def restart(self):
        if self.running():
            self.stop()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL, quiet=False):
        """Send `sig`; for SIGKILL also reap the process."""
        if not self.running():
            return
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self._reaped(check=False)

    def wait(self, timeout):
        """Wait for the process to exit; its exit code, or None on timeout."""
        try:
            self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            return None
        return self._reaped(check=False)

    def stop(self, timeout=30.0, check=None):
        """SIGTERM and wait; returns the exit code (SIGKILL after timeout,
        then -9). Under MCPD_TEST_WRAPPER the exit code is also reported as
        a test (valgrind's --error-exitcode shows up here)."""
        if self.proc is None:
            return None
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                diag("mcpd did not exit after SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self._reaped(check=WRAPPER if check is None else check)

    def _reaped(self, check):
        if self in _daemons:
            _daemons.remove(self)
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
            if check:
                if not ok(self.exit_code == 0,
                          "mcpd exits 0 under %s" % WRAPPER[0]):
                    self.dump_log()
        return self.exit_code

    # -- logs

    def log_text(self, all_runs=False):
        out = []
        for p in (self.logs if all_runs else self.logs[-1:]):
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def dump_log(self, lines=60):
        text = self.log_text(all_runs=True).splitlines()
        if text:
            diag("---- last %d lines of mcpd stderr ----" % min(lines,
                                                             len(text)))
            for line in text[-lines:]:
                diag(line)

    # -- HTTP

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- plugins, reload, metrics

    def plugin_records(self, name=None):
        """GET /v1/plugins' records (of plugin `name`, when given)."""
        st, _, body = self.get("/v1/plugins")
        recs = body.get("plugins", []) if st == 200 and \
            isinstance(body, dict) else []
        return [p for p in recs if name is None or p.get("name") == name]

    def serving(self, name):
        """The loaded (serving) record of plugin `name`, or {}."""
        for p in self.plugin_records(name):
            if p.get("status") == "loaded":
                return p
        return {}

    def metric(self, name):
        """The value of an unlabelled sample in /metrics, or None."""
        _, _, body = self.get("/metrics")
        for line in (body if isinstance(body, str) else "").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def set_config(self, cfg):
        """Rewrite the config file the daemon was started with."""
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)

    def reload(self, wait=False):
        """POST /v1/reload[?wait=1] -> (status, headers, body)."""
        return self.post("/v1/reload" + ("?wait=1" if wait else ""),
                         timeout=60)

    def submit(self, capability, input=None, **fields):
        """POST /v1/tasks -> (status, headers, body)."""
        body = {"capability": capability}
        if input is not None:
            body["input"] = input
        body.update(fields)
        return self.post("/v1/tasks", body)

    def submit_ok(self, capability, input=None, **fields):
        """Submit and return the new task's id (None, reported, if not 201)."""
        st, _, body = self.submit(capability, input, **fields)
        if st != 201 or not isinstance(body, dict):
            ok(False, "submit %s %r" % (capability, input))
            diag("    got %s %r" % (st, body))
            return None
        return body.get("id")

    def task(self, tid, wait=None):
        """GET the task ({} when that fails)."""
        path = "/v1/tasks/%s" % tid
        if wait is not None:
            path += "?wait=%d" % wait
        st, _, body = self.get(path, timeout=(wait or 0) + 30)
        return body if st == 200 and isinstance(body, dict) else {}

    def wait_task(self, tid, timeout=10.0):
        """The task once final (or as it is when `timeout` runs out; {} if
        it cannot be read)."""
        deadline = time.monotonic() + timeout * SLOW
        t = None
        while True:
            left = deadline - time.monotonic()
            t = self.task(tid, wait=max(0, min(5, int(left))))
            if t.get("status") in FINAL or left <= 0:
                return t
            if not t:
                time.sleep(0.05)

    def wait_status(self, tid, statuses, timeout=10.0):
        """Poll until the task's status is one of `statuses`."""
        def probe():
            t = self.task(tid)
            return t if t and t.get("status") in statuses else None
        return wait_until(probe, timeout, 0.02)

    def events(self, tid, timeout=15.0, on_event=None):
        """Read the task's SSE stream to its end.

        Returns (status, headers, events, ended) where events is a list of
        dicts {"id", "event", "data"} (data parsed as JSON) and ended tells
        whether the server closed the stream before `timeout`. on_event,
        if given, is called with each event as it arrives.
        """
        conn = http.client.HTTPConnection(HOST, self.port,
                                          timeout=timeout * SLOW)
        evs = []
        deadline = time.monotonic() + timeout * SLOW
        try:
            conn.request("GET", "/v1/tasks/%s/events" % tid,
                         headers={"Accept": "text/event-stream"})
            r = conn.getresponse()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if r.status != 200:
                return r.status, hdrs, _parse(r.read()), True
            cur = {}
            while time.monotonic() < deadline:
                try:
                    line = r.readline()
                except (socket.timeout, OSError):
                    return r.status, hdrs, evs, False
                if not line:
                    return r.status, hdrs, evs, True
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line == "":
                    if cur:
                        if "data" in cur:
                            cur["data"] = _parse(cur["data"].encode())
                        evs.append(cur)
                        if on_event:
                            on_event(cur)
                    cur = {}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "data" and "data" in cur:
                        cur["data"] += "\n" + v
                    else:
                        cur[k] = v
            return r.status, hdrs, evs, False
        finally:
            conn.close()


def run(argv, env_extra=None, timeout=30.0, stdin=None):
    """Run a program -> (exit code, stdout, stderr); -1 on timeout."""
    e = dict(os.environ)
    e.update(env_extra or {})
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, env=e,
                           timeout=timeout * SLOW)
    except subprocess.TimeoutExpired as ex:
        return -1, (ex.stdout or b"").decode("utf-8", "replace"), \
            (ex.stderr or b"").decode("utf-8", "replace")
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))
