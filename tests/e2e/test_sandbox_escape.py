#!/usr/bin/env python3
# mcpd-test: no-valgrind (valgrind cannot run the namespace, seccomp
# and bwrap children these tests start; they run plain and under ASan)
"""The escape battery (issue 7): for every isolating sandbox driver the
daemon loaded (sandbox-ns, sandbox-bwrap), run escape attempts through
sandbox.exec and assert that each one fails the specific way it should and
that the host is untouched afterwards: canary files unchanged, nothing new
in /usr, /etc, the state dir or the home dir, no process of the run left,
the daemon alive; at the end, no cgroup, mount or scratch dir left over.

The attempts themselves live in sandbox_probe.py, sent through `files`.
The unisolated sandbox-process driver is not held to the battery; it is
only checked to say so in `enforced`, and used once to show the probe does
see an escape when there is one. To watch the battery fail, run it against
that driver by hand: MCPD_ESCAPE_DRIVERS=process (comma-separated list).
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

import mcpdtest as t
import sandboxtest as sb

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "sandbox_probe.py")) as _f:
    PROBE = _f.read()
sys.path.insert(0, HERE)
import sandbox_probe  # noqa: E402  (host baseline of ENOSYS calls)

REFUSED_READ = {"errno:ENOENT", "errno:EACCES", "errno:EPERM"}
REFUSED_WRITE = {"errno:EROFS", "errno:EACCES", "errno:ENOENT",
                 "errno:EPERM"}
SECCOMP = {"errno:EPERM", "signal:SIGSYS"}
SWEEP = ("kexec_load", "kexec_file_load", "bpf", "perf_event_open",
         "keyctl", "add_key", "reboot", "swapon", "userfaultfd",
         "io_uring_setup", "process_vm_readv", "process_vm_writev",
         "open_by_handle_at")
MOUNTISH = ("mount", "umount2", "pivot_root", "unshare_user", "unshare_mnt",
            "unshare_net", "setns_net", "setns_mnt", "chroot")


# ---------------------------------------------------------------- host

class Host:
    """What the battery plants on the host and checks after every run."""

    def __init__(self):
        self.base = t.tempdir("mcpd-escape-")
        os.chmod(self.base, 0o755)
        self.secret = "canary-%s" % sb.mark()
        self.home = os.path.expanduser("~")
        self.canaries = {}
        for path in (os.path.join(self.home, ".mcpd-escape-canary-%d"
                                  % os.getpid()),
                     os.path.join(self.base, "canary.txt")):
            with open(path, "w") as f:
                f.write(self.secret + "\n")
            os.chmod(path, 0o644)  # only the sandbox may keep it out
            self.canaries[path] = self.digest(path)
        self.home_canary, self.tmp_canary = list(self.canaries)
        self.victim = os.path.join(self.base, "victim")
        os.mkdir(self.victim)
        os.chmod(self.victim, 0o777)
        with open(os.path.join(self.victim, "keep.txt"), "w") as f:
            f.write("keep\n")
        # Not under /tmp: the sandbox has its own /tmp, and drivers refuse
        # a readonly path that would hide part of what they provide.
        self.suid_dir = tempfile.mkdtemp(prefix="mcpd-escape-suid-",
                                         dir="/var/tmp")
        os.chmod(self.suid_dir, 0o755)
        self.suid = self.build_suid()
        self.state_dir = None

    @staticmethod
    def digest(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def build_suid(self):
        """A setuid-root helper that reports its uids and tries setuid(0)."""
        src = os.path.join(self.suid_dir, "suid.c")
        exe = os.path.join(self.suid_dir, "suidprobe")
        with open(src, "w") as f:
            f.write(r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	uid_t r, e, s;
	int rc;

	getresuid(&r, &e, &s);
	rc = setresuid(0, 0, 0);
	printf("ruid=%u euid=%u suid=%u setresuid0=%d now_euid=%u\n",
	       (unsigned)r, (unsigned)e, (unsigned)s, rc, (unsigned)geteuid());
	fflush(stdout);
	sleep(1);
	return 0;
}
""")
        gcc = shutil.which("gcc") or "/usr/bin/gcc"
        rc, _, err = t.run([gcc, "-O1", "-o", exe, src], timeout=60)
        if rc != 0:
            t.diag("cannot build the setuid helper: %s" % err)
            return None
        os.chown(exe, 0, 0)
        os.chmod(exe, 0o4755)
        return exe

    def remove(self):
        try:
            os.unlink(self.home_canary)
        except OSError:
            pass
        shutil.rmtree(self.suid_dir, ignore_errors=True)

    def targets(self, mk):
        """Files an escaping write would create."""
        return [os.path.join(d, mk) for d in
                ("/usr", "/etc", self.state_dir, self.home, self.base, "/")]

    def problems(self, mk, daemon):
        """Everything wrong on the host after a run marked `mk`."""
        bad = []
        for path, dig in self.canaries.items():
            if not os.path.exists(path) or self.digest(path) != dig:
                bad.append("canary %s changed" % path)
        if not os.path.exists(os.path.join(self.victim, "keep.txt")):
            bad.append("victim file removed")
        for d in ("/usr", "/etc", self.state_dir, self.home, self.base, "/",
                  "/tmp", "/var/tmp", self.victim):
            try:
                hits = [x for x in os.listdir(d) if mk in x]
            except OSError:
                hits = []
            if hits:
                bad.append("new files in %s: %s" % (d, hits))
                for x in hits:  # an escape was seen; do not keep its mess
                    try:
                        os.unlink(os.path.join(d, x))
                    except OSError:
                        pass
        left = sb.wait_gone(mk, 5)
        if left:
            bad.append("processes left: %s" % left)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not daemon.running():
            bad.append("the daemon is gone")
        else:
            st, _, _ = daemon.get("/healthz")
            if st != 200:
                bad.append("the daemon answers /healthz %s" % st)
        return bad


class Listener:
    """A TCP and a UDP socket on 127.0.0.1 counting what reaches them."""

    def __init__(self):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind((t.HOST, 0))
        self.tcp.listen(8)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((t.HOST, 0))
        self.udp.settimeout(0.2)
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]
        self.connections = 0
        self.datagrams = 0
        self.stop = False
        self.threads = [threading.Thread(target=self.accept, daemon=True),
                        threading.Thread(target=self.answer, daemon=True)]
        for th in self.threads:
            th.start()

    def accept(self):
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
                self.connections += 1
                c.close()
            except (socket.timeout, OSError):
                pass

    def answer(self):
        """Answer any DNS query with one A record 127.0.0.1."""
        while not self.stop:
            try:
                q, peer = self.udp.recvfrom(512)
            except (socket.timeout, OSError):
                continue
            self.datagrams += 1
            ans = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00" \
                + q[12:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c" \
                b"\x00\x04\x7f\x00\x00\x01"
            try:
                self.udp.sendto(ans, peer)
            except OSError:
                pass

    def close(self):
        self.stop = True
        for th in self.threads:
            th.join(2)
        self.tcp.close()
        self.udp.close()


# ---------------------------------------------------------------- runs

class Battery:
    def __init__(self, d, host, listener):
        self.d = d
        self.host = host
        self.net = listener
        self.daemon_pid = d.proc.pid
        self.host_enosys = self.baseline()

    @staticmethod
    def baseline():
        """Calls that fail with ENOSYS on this kernel even outside any
        sandbox (e.g. no module or kexec support): there ENOSYS is not
        proof of a filter, but the attempt still cannot succeed."""
        out = set()
        old = os.getcwd()
        os.chdir(t.tempdir())
        try:
            for op in SWEEP + ("init_module", "finit_module"):
                if op in ("reboot", "swapon"):
                    continue
                res, _ = sandbox_probe.in_child(
                    lambda: sandbox_probe.ATTEMPTS[op](None))
                if res == "errno:ENOSYS":
                    out.add(op)
        finally:
            os.chdir(old)
        if out:
            t.diag("this kernel lacks %s: ENOSYS accepted for them"
                   % ", ".join(sorted(out)))
        return out

    def exec(self, driver, inp, mk, timeout=40):
        env = dict(inp.get("env") or {})
        env["MARK"] = mk
        inp = dict(inp, env=env)
        return sb.run(self.d, driver, inp, timeout)

    def untouched(self, driver, what, mk):
        bad = self.host.problems(mk, self.d)
        if not t.ok(not bad, "%s: host untouched after %s" % (driver, what)):
            for b in bad:
                t.diag("    " + b)

    def probe(self, driver, what, ops, limits=None, extra=None, mk=None):
        """Run probe.py with [(op, arg)...] -> {op: (result, detail)}."""
        mk = mk or sb.mark()
        argv = ["/usr/bin/python3", "probe.py"]
        for op, a in ops:
            argv += [op, json.dumps(a)]
        inp = {"argv": argv, "files": {"probe.py": PROBE}}
        if limits:
            inp["limits"] = limits
        inp.update(extra or {})
        task = self.exec(driver, inp, mk)
        res = sb.result(task)
        out = {}
        for line in (res.get("stdout") or "").splitlines():
            try:
                o = json.loads(line)
                out[o["op"]] = (o["result"], o.get("detail"))
            except (ValueError, KeyError, TypeError):
                pass
        if len(out) != len(ops):
            t.diag("%s %s: %s" % (driver, what, sb.describe(task)))
        self.untouched(driver, what, mk)
        return out, task

    def expect(self, driver, out, op, allowed, label=None):
        res, detail = out.get(op, ("no result", None))
        if not t.ok(res in allowed, "%s: %s refused (%s)"
                    % (driver, label or op, res)):
            t.diag("    expected one of %s; detail %r"
                   % (sorted(allowed), detail))

    # -- the attempts

    def secrets(self, drv):
        h = self.host
        ops = [("read", "/etc/shadow"), ("read", h.home_canary),
               ("read", h.tmp_canary),
               ("read", os.path.join(h.state_dir, "data.mdb")),
               ("list", h.state_dir), ("list", h.home)]
        # one op name may appear once per run: split into runs
        for op, a in ops:
            out, task = self.probe(drv, "%s %s" % (op, a), [(op, a)])
            self.expect(drv, out, op, REFUSED_READ, "%s %s" % (op, a))
            ok = h.secret not in (sb.result(task).get("stdout") or "")
            t.ok(ok, "%s: the canary's content is not in the output" % drv)
        task = self.exec(drv, {"argv": ["cat", "/etc/shadow"]}, sb.mark())
        r = sb.result(task)
        t.ok(r.get("exit_code") not in (0, None)
             and "root:" not in (r.get("stdout") or ""),
             "%s: cat /etc/shadow fails (%s)" % (drv,
                                                  (r.get("stderr") or "")
                                                  .strip()[:80]))

    def writes(self, drv):
        mk = sb.mark()
        for target in self.host.targets(mk)[:5]:
            out, _ = self.probe(drv, "write %s" % target, [("write", target)],
                                mk=mk)
            self.expect(drv, out, "write", REFUSED_WRITE, "write %s" % target)
            t.ok(not os.path.exists(target),
                 "%s: %s does not exist on the host" % (drv, target))

    def network(self, drv):
        n = self.net
        before = (n.connections, n.datagrams)
        out, _ = self.probe(drv, "network attempts", [
            ("tcp", n.tcp_port), ("dns", n.udp_port),
            ("getaddrinfo", "example.com"), ("socket_inet", None),
            ("socket_inet6", None), ("socket_netlink", None),
            ("socket_packet", None), ("socket_unix", None)])
        time.sleep(0.3)  # let a connection that did get out be counted
        self.expect(drv, out, "tcp", {"errno:ECONNREFUSED", "errno:ENETUNREACH",
                                      "errno:EPERM", "errno:EACCES",
                                      "errno:EAFNOSUPPORT",
                                      "errno:EHOSTUNREACH"},
                    "TCP connect to 127.0.0.1:%d" % n.tcp_port)
        t.is_(n.connections - before[0], 0,
              "%s: no connection reached the test's listener" % drv)
        res = out.get("dns", ("no result",))[0]
        t.ok(res.startswith("errno:") or res.startswith("exception:"),
             "%s: DNS query to the test's resolver fails (%s)" % (drv, res))
        t.is_(n.datagrams - before[1], 0,
              "%s: no datagram reached the test's resolver" % drv)
        res = out.get("getaddrinfo", ("no result",))[0]
        t.ok(res.startswith("exception:") or res.startswith("errno:"),
             "%s: resolving example.com fails (%s)" % (drv, res))
        for op in ("socket_inet", "socket_inet6", "socket_netlink",
                   "socket_packet"):
            self.expect(drv, out, op, {"errno:EPERM", "errno:EACCES",
                                       "errno:EAFNOSUPPORT", "signal:SIGSYS"})
        t.is_(out.get("socket_unix", ("no result",))[0], "ok",
              "%s: AF_UNIX sockets still work" % drv)

    def processes(self, drv):
        out, _ = self.probe(drv, "process attempts", [
            # reversed, so that the probe's own argv does not match
            ("proc_scan", os.path.abspath(self.d.bin)[::-1]),
            ("kill", [self.daemon_pid, signal.SIGTERM])])
        self.expect(drv, out, "proc_scan", {"errno:ESRCH"},
                    "seeing the daemon in /proc")
        self.expect(drv, out, "kill", {"errno:ESRCH", "errno:EPERM"},
                    "SIGTERM to the daemon's pid %d" % self.daemon_pid)
        out, _ = self.probe(drv, "kill the test", [
            ("kill", [os.getpid(), 0])])
        self.expect(drv, out, "kill", {"errno:ESRCH", "errno:EPERM"},
                    "signal 0 to the test's pid")
        t.ok(self.d.running(), "%s: the daemon is still running" % drv)

    def syscalls(self, drv):
        out, _ = self.probe(drv, "ptrace", [("ptrace_child", None),
                                            ("ptrace_sibling", None)])
        self.expect(drv, out, "ptrace_child", SECCOMP, "ptrace of a child")
        self.expect(drv, out, "ptrace_sibling", SECCOMP, "ptrace of a sibling")
        out, _ = self.probe(drv, "mount family",
                            [(op, None) for op in MOUNTISH])
        for op in MOUNTISH:
            allowed = SECCOMP | {"errno:EACCES"}
            if op == "unshare_user":
                allowed |= {"errno:ENOSPC"}  # user namespaces capped at 0
            self.expect(drv, out, op, allowed)
        mods = ("init_module", "finit_module")
        out, _ = self.probe(drv, "kernel modules", [(op, None) for op in mods])
        for op in mods:
            extra = {"errno:ENOSYS"} if op in self.host_enosys else set()
            self.expect(drv, out, op, SECCOMP | extra, "%s (load a module)"
                        % op)
        out, _ = self.probe(drv, "syscall sweep", [(op, None) for op in SWEEP])
        for op in SWEEP:
            extra = {"errno:ENOSYS"} if op in self.host_enosys else set()
            self.expect(drv, out, op, SECCOMP | {"errno:EACCES"} | extra)

    def fork_bomb(self, drv):
        mk = sb.mark()
        bomb = ("import errno, os, sys, time\n"
                "n = 0\n"
                "try:\n"
                "    while n < 5000:\n"
                "        if os.fork() == 0:\n"
                "            time.sleep(30)\n"
                "            os._exit(0)\n"
                "        n += 1\n"
                "except OSError as e:\n"
                "    print('refused', errno.errorcode[e.errno], n, flush=True)\n"
                "    time.sleep(30)\n"
                "    sys.exit(0)\n"
                "print('unbounded', n, flush=True)\n")
        task = self.exec(drv, {"argv": ["python3", "bomb.py"],
                               "files": {"bomb.py": bomb},
                               "limits": {"pids": 16, "wall_ms": 8000}}, mk)
        r = sb.result(task)
        words = (r.get("stdout") or "").split()
        t.ok("unbounded" not in words and
             (r.get("killed_by") == "pids" or
              (len(words) == 3 and words[1] == "EAGAIN" and
               int(words[2]) < 16)),
             "%s: fork bomb contained by pids (killed_by %r, %r)"
             % (drv, r.get("killed_by"), " ".join(words)))
        if not r:
            t.diag(sb.describe(task))
        self.untouched(drv, "fork bomb", mk)
        mk = sb.mark()
        (task, took) = sb.elapsed(lambda: self.exec(
            drv, {"argv": ["sh", "-c", "b() { b | b & }; b; wait"],
                  "limits": {"pids": 32, "wall_ms": 3000}}, mk))
        r = sb.result(task)
        # The top shell may return at once (each b backgrounds its pipe
        # and returns), leaving the explosion to its children: the driver
        # must then kill them when the command ends. Or forks fail (dash
        # says so) or the pids limit kills it. Either way it must end
        # soon, and untouched() below checks no process is left.
        if not t.ok(r.get("driver") == drv and
                    (r.get("killed_by") in ("pids", "timeout", None)) and
                    took < 15 * t.SLOW,
                    "%s: shell fork bomb ends (killed_by %r, %.1f s)"
                    % (drv, r.get("killed_by"), took)):
            t.diag("    " + sb.describe(task))
        self.untouched(drv, "shell fork bomb", mk)

    def memory_bomb(self, drv):
        mk = sb.mark()
        bomb = ("chunks = []\n"
                "for i in range(1, 257):\n"
                "    chunks.append(b'\\x01' * (8 << 20))\n"
                "    print(i * 8, flush=True)\n"
                "print('survived', flush=True)\n")
        task = self.exec(drv, {"argv": ["python3", "bomb.py"],
                               "files": {"bomb.py": bomb},
                               "limits": {"memory_bytes": 64 * sb.MiB,
                                          "wall_ms": 15000}}, mk)
        r = sb.result(task)
        lines = (r.get("stdout") or "").split()
        reached = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        t.is_(r.get("killed_by"), "memory",
              "%s: memory bomb killed for memory (%s)" % (drv,
                                                         sb.describe(task)
                                                         [:200]))
        t.ok("survived" not in lines and reached <= 128,
             "%s: it got no further than %d MiB" % (drv, reached))
        self.untouched(drv, "memory bomb", mk)

    def cpu_spin(self, drv):
        mk = sb.mark()
        task = self.exec(drv, {"argv": ["sh", "-c", "while :; do :; done"],
                               "limits": {"cpu_ms": 1000, "wall_ms": 15000}},
                         mk)
        r = sb.result(task)
        t.ok(r.get("killed_by") == "cpu" and
             (r.get("wall_ms") or 1e9) < 8000,
             "%s: CPU spin killed at cpu_ms (killed_by %r, wall %r ms, "
             "cpu %r ms)" % (drv, r.get("killed_by"), r.get("wall_ms"),
                             r.get("cpu_ms")))
        self.untouched(drv, "CPU spin", mk)
        mk = sb.mark()
        task = self.exec(drv, {"argv": ["sh", "-c", "sleep 30; echo late"],
                               "limits": {"wall_ms": 1500}}, mk)
        r = sb.result(task)
        t.ok(r.get("killed_by") == "timeout" and
             1400 <= (r.get("wall_ms") or 0) < 6000 and
             "late" not in (r.get("stdout") or ""),
             "%s: sleep killed at wall_ms (killed_by %r, wall %r ms)"
             % (drv, r.get("killed_by"), r.get("wall_ms")))
        self.untouched(drv, "wall timeout", mk)

    def endless_output(self, drv):
        for stream, argv in (("stdout", ["yes", "escape"]),
                             ("stderr", ["sh", "-c", "yes escape >&2"])):
            mk = sb.mark()
            task, took = sb.elapsed(lambda: self.exec(
                drv, {"argv": argv, "limits": {"output_bytes": 65536,
                                               "wall_ms": 20000}}, mk))
            r = sb.result(task)
            text = r.get(stream) or ""
            t.ok(r.get("killed_by") == "output" and
                 r.get(stream + "_truncated") is True and
                 0 < len(text.encode()) <= 65536 and took < 10 * t.SLOW,
                 "%s: endless %s cut at output_bytes (killed_by %r, "
                 "%d bytes, %.1f s)" % (drv, stream, r.get("killed_by"),
                                        len(text.encode()), took))
            self.untouched(drv, "endless %s" % stream, mk)

    def huge_file(self, drv):
        mk = sb.mark()
        writer = ("import errno, signal\n"
                  "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                  "n = 0\n"
                  "with open('big.bin', 'wb', buffering=0) as f:\n"
                  "    try:\n"
                  "        while n < (256 << 20):\n"
                  "            n += f.write(b'\\0' * (1 << 20))\n"
                  "    except OSError as e:\n"
                  "        print('stopped', errno.errorcode[e.errno], n)\n"
                  "        raise SystemExit(0)\n"
                  "print('unbounded', n)\n")
        task = self.exec(drv, {"argv": ["python3", "w.py"],
                               "files": {"w.py": writer},
                               "limits": {"file_bytes": 4 * sb.MiB}}, mk)
        words = (sb.result(task).get("stdout") or "").split()
        t.ok(len(words) == 3 and words[0] == "stopped" and
             words[1] in ("EFBIG", "ENOSPC") and int(words[2]) <= 4 * sb.MiB,
             "%s: huge file stopped at file_bytes (%s)"
             % (drv, " ".join(words) or sb.describe(task)))
        self.untouched(drv, "huge file", mk)
        mk = sb.mark()
        task = self.exec(drv, {"argv": ["dd", "if=/dev/zero", "of=big",
                                        "bs=1M", "count=256"],
                               "limits": {"file_bytes": 4 * sb.MiB}}, mk)
        r = sb.result(task)
        t.is_(r.get("signal"), "SIGXFSZ",
              "%s: dd past file_bytes gets SIGXFSZ" % drv)
        self.untouched(drv, "dd huge file", mk)

    def setuid(self, drv):
        h = self.host
        if not h.suid:
            t.ok(False, "%s: setuid helper could not be built" % drv)
            return
        mk = sb.mark()
        tid = sb.submit(self.d, {"argv": [h.suid], "driver": drv,
                                 "readonly_paths": [h.suid_dir],
                                 "env": {"MARK": mk}})
        seen = {}
        deadline = time.monotonic() + 20 * t.SLOW
        task = {}
        while tid and time.monotonic() < deadline:
            for pid in sb.marked_pids(mk):
                u = sb.host_uids(pid)
                if u:
                    seen[pid] = u
            task = self.d.task(tid)
            if task.get("status") in t.FINAL:
                break
            time.sleep(0.02)
        r = sb.result(task)
        out = r.get("stdout") or ""
        fields = dict(kv.split("=") for kv in out.split() if "=" in kv)
        t.ok(fields and fields.get("ruid") == fields.get("euid") and
             fields.get("setresuid0") == "-1",
             "%s: a setuid-root binary gains nothing (%s)"
             % (drv, out.strip() or sb.describe(task)))
        t.ok(seen and all(e != 0 for _, e in seen.values()),
             "%s: no process of the run has host euid 0 (%s)"
             % (drv, sorted(set(seen.values()))))
        self.untouched(drv, "setuid", mk)

    def symlinks(self, drv):
        h = self.host
        for bad in ("../%s" % sb.mark(), "/etc/%s" % sb.mark(),
                    "a/../../%s" % sb.mark()):
            mk = bad.rsplit("/", 1)[1]
            st, _, body = self.d.submit("sandbox.exec", {
                "argv": ["true"], "driver": drv, "files": {bad: "x"}})
            if st == 201:
                task = self.d.wait_task(body.get("id"), 20)
                good = task.get("status") == "failed" and \
                    (task.get("error") or {}).get("code") == "bad_input"
            else:
                good = st == 422 and t.error_code(body) == "invalid_input"
            t.ok(good, "%s: files path %r refused" % (drv, bad))
            self.untouched(drv, "files path %r" % bad, mk)
        mk = sb.mark()
        script = ("ln -s %s leak_home; ln -s %s leak_tmp; "
                  "ln -s /etc/shadow leak_shadow; ln -s %s leak_state; "
                  "ln -s %s victim; rm -rf victim/; echo x > victim/%s; "
                  "echo done" % (h.home_canary, h.tmp_canary,
                                 os.path.join(h.state_dir, "data.mdb"),
                                 h.victim, mk))
        task = self.exec(drv, {"argv": ["sh", "-c", script],
                               "return_files": True}, mk)
        r = sb.result(task)
        files = r.get("files")
        dump = repr(files)
        t.ok(isinstance(files, dict) and h.secret not in dump and
             "root:" not in dump and not any(k.startswith("leak")
                                             for k in files),
             "%s: returned files do not follow symlinks out (%s)"
             % (drv, dump[:200]))
        self.untouched(drv, "symlinks out of the work dir", mk)

    def leftovers(self, drv):
        mk = sb.mark()
        daemonize = ("import os, sys\n"
                     "if os.fork() == 0:\n"
                     "    os.setsid()\n"
                     "    if os.fork() == 0:\n"
                     "        fd = os.open('/dev/null', os.O_RDWR)\n"
                     "        for i in range(3): os.dup2(fd, i)\n"
                     "        os.execv('/bin/sleep', ['%s', '60'])\n"
                     "    os._exit(0)\n"
                     "print('parent done', flush=True)\n" % mk)
        task, took = sb.elapsed(lambda: self.exec(
            drv, {"argv": ["python3", "d.py"], "files": {"d.py": daemonize}},
            mk))
        r = sb.result(task)
        t.ok(r.get("exit_code") == 0 and took < 8 * t.SLOW,
             "%s: a daemonizing command returns (%.1f s, %s)"
             % (drv, took, r.get("stdout", "").strip()))
        self.untouched(drv, "double-forked daemon", mk)
        mk = sb.mark()
        task, took = sb.elapsed(lambda: self.exec(
            drv, {"argv": ["sh", "-c", "sleep 60 & echo started"]}, mk))
        r = sb.result(task)
        t.ok((r.get("stdout") or "").strip() == "started" and
             took < 8 * t.SLOW,
             "%s: background job holding stdout does not hold the run "
             "(%.1f s)" % (drv, took))
        self.untouched(drv, "background job", mk)


def unisolated(d, host):
    """sandbox-process says it is not isolated, and the probe can tell."""
    task = sb.run(d, "process", {"argv": ["true"]})
    r = sb.result(task)
    e = r.get("enforced") or {}
    t.is_((r.get("driver"), e.get("isolated")), ("process", False),
          "process: enforced.isolated is false")
    task = sb.run(d, "process", {
        "argv": ["/usr/bin/python3", "probe.py", "read",
                 '"%s"' % host.tmp_canary],
        "files": {"probe.py": PROBE}})
    t.like(sb.result(task).get("stdout") or "", host.secret,
           "process: the probe does see the host canary (the battery can "
           "fail)")


def main():
    host = Host()
    net = Listener()
    cg0, runs = sb.cgroup_dirs(), sb.run_dir()
    try:
        d = t.Daemon(config=sb.config(readonly_allow=[host.suid_dir],
                                      runs=runs))
        host.state_dir = d.state_dir
        drivers = sb.loaded_drivers(d)
        isolating = [x for x in drivers if x in sb.ISOLATING]
        # By hand, to see the battery fail: MCPD_ESCAPE_DRIVERS=process
        forced = os.environ.get("MCPD_ESCAPE_DRIVERS")
        if forced:
            isolating = [x for x in forced.split(",") if x in drivers]
        t.diag("sandbox drivers loaded: %s" % (drivers or "none"))
        if not isolating:
            d.stop()
            t.skip_all("no isolating sandbox driver is loaded")
        bat = Battery(d, host, net)
        for drv in isolating:
            bat.secrets(drv)
            bat.writes(drv)
            bat.network(drv)
            bat.processes(drv)
            bat.syscalls(drv)
            bat.fork_bomb(drv)
            bat.memory_bomb(drv)
            bat.cpu_spin(drv)
            bat.endless_output(drv)
            bat.huge_file(drv)
            bat.setuid(drv)
            bat.symlinks(drv)
            bat.leftovers(drv)
        if "process" in drivers:
            unisolated(d, host)
        pid = d.proc.pid
        d.stop()
        t.is_(sb.leaked_cgroups(cg0, pid), [], "no per-run cgroup left")
        t.is_(sb.mounts_under(runs), [], "no mount left on the host")
        t.is_(os.listdir(runs), [], "no scratch dir left")
    finally:
        net.close()
        host.remove()
    t.done_testing()


if __name__ == "__main__":
    main()
