"""Escape attempts, run *inside* a sandbox by test_sandbox_escape.py.

Not a test by itself: the battery sends this file through the `files` of a
sandbox.exec task and runs `python3 probe.py OP [JSON-ARGS]`. Each attempt
runs in a forked child (so a seccomp filter that kills with SIGSYS is seen
as such) and the script prints one JSON object a line:

  {"op": "...", "result": "ok" | "errno:EPERM" | "signal:SIGSYS" | ...,
   "detail": ...}

"ok" means the attempt worked, i.e. an escape; the battery asserts on the
errno. Arguments chosen so that an unprivileged caller without a filter gets
through to the kernel's real work (so a failure means something refused
it), and so that running this by hand as root outside any sandbox does no
harm beyond what is undone at once.
"""

import ctypes
import errno
import json
import os
import signal
import socket
import struct
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# Syscall numbers for the calls libc has no wrapper for (or wraps oddly).
_NR = {
    "x86_64": dict(ptrace=101, mount=165, umount2=166, pivot_root=155,
                   unshare=272, setns=308, chroot=161, kexec_load=246,
                   kexec_file_load=320, bpf=321, perf_event_open=298,
                   keyctl=250, add_key=248, init_module=175,
                   finit_module=313, reboot=169, swapon=167,
                   userfaultfd=323, io_uring_setup=425,
                   io_uring_enter=426, io_uring_register=427,
                   process_vm_readv=310, process_vm_writev=311,
                   open_by_handle_at=304),
    "aarch64": dict(ptrace=117, mount=40, umount2=39, pivot_root=41,
                    unshare=97, setns=268, chroot=51, kexec_load=104,
                    kexec_file_load=294, bpf=280, perf_event_open=241,
                    keyctl=219, add_key=217, init_module=105,
                    finit_module=273, reboot=142, swapon=224,
                    userfaultfd=282, io_uring_setup=425,
                    io_uring_enter=426, io_uring_register=427,
                    process_vm_readv=270, process_vm_writev=271,
                    open_by_handle_at=265),
}[os.uname().machine]


def sc(name, *args):
    """Raw syscall -> its return value, or raises OSError(errno)."""
    cargs = []
    for a in args:
        if isinstance(a, int):
            cargs.append(ctypes.c_long(a))
        elif isinstance(a, str):
            cargs.append(ctypes.c_char_p(a.encode()))
        else:
            cargs.append(a)
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(_NR[name]), *cargs)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def errname(e):
    return errno.errorcode.get(e, str(e))


def in_child(fn, timeout=10.0):
    """Run fn() in a forked child; -> (result, detail)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            detail = fn()
            out = {"result": "ok", "detail": detail}
        except OSError as e:
            out = {"result": "errno:" + errname(e.errno), "detail": str(e)}
        except BaseException as e:  # noqa: B902 - report, never escape
            out = {"result": "exception:" + type(e).__name__,
                   "detail": str(e)}
        try:
            os.write(w, json.dumps(out, default=repr).encode())
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    while True:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return "hung", None
        time.sleep(0.005)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    if os.WIFSIGNALED(st):
        return "signal:" + signal.Signals(os.WTERMSIG(st)).name, None
    try:
        out = json.loads(data)
    except ValueError:
        return "no-report", data.decode("utf-8", "replace")
    return out["result"], out.get("detail")


# ------------------------------------------------------------ attempts

def read_file(path):
    with open(path, "rb") as f:
        return f.read(4096).decode("utf-8", "replace")


def write_file(path):
    with open(path, "w") as f:
        f.write("escaped\n")
    return path


def list_dir(path):
    return sorted(os.listdir(path))[:50]


def tcp_connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"escaped\n")
        return "connected"
    finally:
        s.close()


def dns_query(port, name="escape.example"):
    """A hand-made DNS query to the test's UDP server at 127.0.0.1:port."""
    q = struct.pack(">HHHHHH", 0x5332, 0x0100, 1, 0, 0, 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        data, _ = s.recvfrom(512)
        return "answer:%d bytes" % len(data)
    finally:
        s.close()


def getaddrinfo(name):
    return [a[4][0] for a in socket.getaddrinfo(name, 80)]


def proc_scan(needle):
    """Every process whose cmdline contains `needle` (given reversed, so
    that this probe's own command line does not contain it): host processes
    must not be visible."""
    needle = needle[::-1]
    seen, found = 0, []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        seen += 1
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in cmd:
            found.append([int(p), cmd])
    if found:
        return {"visible": seen, "found": found}
    raise OSError(errno.ESRCH, "no process matches; %d visible" % seen)


def signal_pid(pid, sig):
    os.kill(pid, sig)
    return "signalled %d" % pid


def ptrace_child():
    """PTRACE_ATTACH to our own child: allowed by the kernel without a
    filter (same uid, no Yama ancestry rule against a child)."""
    pid = os.fork()
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    try:
        sc("ptrace", 16, pid, 0, 0)  # PTRACE_ATTACH
        return "attached to %d" % pid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def ptrace_sibling():
    """Two children of one parent: the second attaches to the first."""
    victim = os.fork()
    if victim == 0:
        time.sleep(5)
        os._exit(0)
    try:
        res, detail = in_child(lambda: sc("ptrace", 16, victim, 0, 0))
        if res == "ok":
            return "attached to sibling %d" % victim
        if res.startswith("errno:"):
            raise OSError(getattr(errno, res[6:]), detail)
        raise RuntimeError(res)
    finally:
        os.kill(victim, signal.SIGKILL)
        os.waitpid(victim, 0)


def do_mount():
    os.makedirs("mnt", exist_ok=True)
    sc("mount", "tmpfs", os.path.abspath("mnt"), "tmpfs", 0, "size=1m")
    sc("umount2", os.path.abspath("mnt"), 2)  # undo at once: MNT_DETACH
    return "mounted"


def do_umount():
    # may_mount() is checked before "not a mount point" (EINVAL).
    sc("umount2", "/usr/share", 0)
    return "unmounted"


def do_pivot_root():
    # may_mount() is checked before the path lookup (ENOENT).
    sc("pivot_root", "/s2-no-such-dir", "/s2-no-such-dir")
    return "pivoted"


def do_unshare(flags):
    sc("unshare", flags)
    return "unshared %#x" % flags


def do_setns(ns):
    fd = os.open("/proc/self/ns/" + ns, os.O_RDONLY)
    try:
        sc("setns", fd, 0)
        return "setns %s" % ns
    finally:
        os.close(fd)


def do_chroot():
    os.chroot("/tmp")
    return "chrooted"


def do_finit_module():
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        sc("finit_module", fd, "", 0)
        return "module loaded"
    finally:
        os.close(fd)


def do_init_module():
    buf = ctypes.create_string_buffer(b"\x7fELF" + b"\0" * 60)
    sc("init_module", buf, 64, "")
    return "module loaded"


def do_kexec_load():
    sc("kexec_load", 0, 0, 0, 0xdead0000)  # bad flags: harmless as root
    return "kexec"


def do_kexec_file_load():
    sc("kexec_file_load", -1, -1, 0, "", 0xdead0000)
    return "kexec"


def do_bpf():
    # BPF_MAP_CREATE, BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
    attr = ctypes.create_string_buffer(struct.pack("<IIII", 2, 4, 4, 1)
                                       + b"\0" * 112)
    fd = sc("bpf", 0, attr, 128)
    os.close(fd)
    return "bpf map fd"


def do_perf_event_open():
    # PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, own task, any cpu;
    # exclude_kernel|exclude_hv so that paranoid level 2 allows it.
    attr = bytearray(128)
    struct.pack_into("<II", attr, 0, 1, 128)      # type, size
    struct.pack_into("<Q", attr, 8, 1)            # config: TASK_CLOCK
    struct.pack_into("<Q", attr, 40, (1 << 5) | (1 << 6))  # flags
    buf = ctypes.create_string_buffer(bytes(attr))
    fd = sc("perf_event_open", buf, 0, -1, -1, 0)
    os.close(fd)
    return "perf fd"


def do_keyctl():
    # KEYCTL_GET_KEYRING_ID of the session keyring, create if needed
    return sc("keyctl", 0, -3, 1)


def do_add_key():
    return sc("add_key", "user", "s2-escape", ctypes.c_char_p(b"x"), 1, -2)


def do_reboot():
    sc("reboot", 0, 0, 0, 0)  # bad magic: EINVAL past the capability check
    return "reboot accepted"


def do_swapon():
    sc("swapon", "/s2-no-such-file", 0)
    return "swapon"


def do_userfaultfd():
    fd = sc("userfaultfd", os.O_CLOEXEC | 1)  # UFFD_USER_MODE_ONLY
    os.close(fd)
    return "uffd"


def do_io_uring():
    params = ctypes.create_string_buffer(120)
    fd = sc("io_uring_setup", 1, params)
    os.close(fd)
    return "io_uring fd"


def do_process_vm_readv():
    src = ctypes.create_string_buffer(b"secret")
    dst = ctypes.create_string_buffer(8)
    liov = struct.pack("PN", ctypes.addressof(dst), 6)
    riov = struct.pack("PN", ctypes.addressof(src), 6)
    lb = ctypes.create_string_buffer(liov)
    rb = ctypes.create_string_buffer(riov)
    n = sc("process_vm_readv", os.getpid(), lb, 1, rb, 1, 0)
    return "read %d" % n


def do_process_vm_writev():
    src = ctypes.create_string_buffer(b"secret")
    dst = ctypes.create_string_buffer(8)
    liov = struct.pack("PN", ctypes.addressof(src), 6)
    riov = struct.pack("PN", ctypes.addressof(dst), 6)
    lb = ctypes.create_string_buffer(liov)
    rb = ctypes.create_string_buffer(riov)
    n = sc("process_vm_writev", os.getpid(), lb, 1, rb, 1, 0)
    return "wrote %d" % n


def do_open_by_handle_at():
    # name_to_handle_at works unprivileged; opening needs the filter to
    # allow it and CAP_DAC_READ_SEARCH.
    buf = ctypes.create_string_buffer(struct.pack("<Ii", 128, 0)
                                      + b"\0" * 128)
    mid = ctypes.c_int(0)
    libc.name_to_handle_at(-100, b"/usr", buf, ctypes.byref(mid), 0)
    fd = sc("open_by_handle_at", -100, buf, 0)
    os.close(fd)
    return "opened by handle"


def do_socket(family, kind=socket.SOCK_STREAM):
    s = socket.socket(family, kind)
    s.close()
    return "socket %d" % family


def setuid_probe(path):
    """Run a setuid-root helper; it prints what it got."""
    import subprocess
    p = subprocess.run([path], capture_output=True, timeout=5)
    return {"rc": p.returncode, "out": p.stdout.decode("utf-8", "replace"),
            "err": p.stderr.decode("utf-8", "replace")}


def uid_map():
    return read_file("/proc/self/uid_map")


ATTEMPTS = {
    "read": lambda a: read_file(a),
    "write": lambda a: write_file(a),
    "list": lambda a: list_dir(a),
    "tcp": lambda a: tcp_connect(a),
    "dns": lambda a: dns_query(a),
    "getaddrinfo": lambda a: getaddrinfo(a),
    "proc_scan": lambda a: proc_scan(a),
    "kill": lambda a: signal_pid(a[0], a[1]),
    "ptrace_child": lambda a: ptrace_child(),
    "ptrace_sibling": lambda a: ptrace_sibling(),
    "mount": lambda a: do_mount(),
    "umount2": lambda a: do_umount(),
    "pivot_root": lambda a: do_pivot_root(),
    "unshare_user": lambda a: do_unshare(0x10000000),
    "unshare_mnt": lambda a: do_unshare(0x00020000),
    "unshare_net": lambda a: do_unshare(0x40000000),
    "setns_net": lambda a: do_setns("net"),
    "setns_mnt": lambda a: do_setns("mnt"),
    "chroot": lambda a: do_chroot(),
    "finit_module": lambda a: do_finit_module(),
    "init_module": lambda a: do_init_module(),
    "kexec_load": lambda a: do_kexec_load(),
    "kexec_file_load": lambda a: do_kexec_file_load(),
    "bpf": lambda a: do_bpf(),
    "perf_event_open": lambda a: do_perf_event_open(),
    "keyctl": lambda a: do_keyctl(),
    "add_key": lambda a: do_add_key(),
    "reboot": lambda a: do_reboot(),
    "swapon": lambda a: do_swapon(),
    "userfaultfd": lambda a: do_userfaultfd(),
    "io_uring_setup": lambda a: do_io_uring(),
    "process_vm_readv": lambda a: do_process_vm_readv(),
    "process_vm_writev": lambda a: do_process_vm_writev(),
    "open_by_handle_at": lambda a: do_open_by_handle_at(),
    "socket_inet": lambda a: do_socket(socket.AF_INET),
    "socket_inet6": lambda a: do_socket(socket.AF_INET6),
    "socket_netlink": lambda a: do_socket(socket.AF_NETLINK,
                                          socket.SOCK_RAW),
    "socket_packet": lambda a: do_socket(socket.AF_PACKET, socket.SOCK_RAW),
    "socket_unix": lambda a: do_socket(socket.AF_UNIX),
    "setuid": lambda a: setuid_probe(a),
    "uid_map": lambda a: uid_map(),
}


def main():
    # probe.py OP [ARG-JSON] [OP [ARG-JSON]]...: pairs, ARG may be "null".
    args = sys.argv[1:]
    while args:
        op = args.pop(0)
        arg = json.loads(args.pop(0)) if args else None
        res, detail = in_child(lambda: ATTEMPTS[op](arg))
        sys.stdout.write(json.dumps({"op": op, "result": res,
                                     "detail": detail}, default=repr) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
