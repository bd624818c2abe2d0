#!/usr/bin/env python3
"""Per-role CPU of Tempest's mail path (not part of make test).

Starts the same private Tempest instance as bench/mta/run.py, sends
--count messages with smtp-source, waits until all are in the Maildir,
and prints the CPU time (user+sys from /proc, reaped children included)
per message of each role: smtpd, qmgr, virtual, ... and their sum.
Steadier than rates on a shared machine, and it says where the time
goes.  Run as root (services run as the mail owner); needs smtp-source
(scripts/bootstrap.sh bench).  Usage:

  bench/mta/profile.py [--size 1024] [--conc 10] [--count 3000]
                       [--fs root|ext4|xfs]   (as in run.py)
                       [--wrap 'strace -ff -tt -T -o /tmp/st']
                       [--wrap 'perf record -g -o /tmp/perf.data']

--wrap runs Tempest's master under that command (which must follow the
children: strace -f/-ff, perf record inherits by default); the pid of
every role is printed, so `perf report --pid` or the strace files can be
read per role.  The warm-up messages are inside the trace too.
"""
import argparse
import collections
import importlib.util
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mta_run", os.path.join(HERE, "run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)
CLK = os.sysconf("SC_CLK_TCK")


def processes():
    """(pid, /proc/PID/stat fields after the command name, argv) of every
    process still there while /proc is read."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        yield int(d), st, argv


def snapshot(root_pid):
    """{pid: (role, cpu ticks)} for root_pid and its children."""
    out = {}
    for pid, st, argv in processes():
        if pid != root_pid and int(st[1]) != root_pid:
            continue
        role = "master"
        if b"daemon" in argv:
            role = argv[argv.index(b"daemon") + 1].decode(errors="replace")
        out[pid] = (role, sum(int(x) for x in st[11:15]))
    return out


def find_master(wrapper_pid, timeout=10):
    """The Tempest master below a --wrap command (a child of it)."""
    end = time.time() + timeout
    while time.time() < end:
        for pid, st, argv in processes():
            if int(st[1]) == wrapper_pid and b"start-fg" in argv:
                return pid
        time.sleep(0.05)
    raise TimeoutError("master below the --wrap command")


def measure(a, base):
    t = run.Tempest(base, 26527)
    if a.wrap:
        import shlex
        t.proc = subprocess.Popen(shlex.split(a.wrap) + [
            run.TEMPEST, "-c", os.path.join(t.dir, "etc"), "start-fg"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run.wait_port(t.port, 60)
        time.sleep(2)
        pid = find_master(t.proc.pid)
    else:
        pid = t.start()
    try:
        # warm-up: every service spawned once
        t.clear()
        subprocess.run(["smtp-source", "-d", "-m", "50", "-s", "5", "-l",
                        str(a.size), "-f", "bench@remote.test", "-t",
                        "demo@example.test", f"127.0.0.1:{t.port}"], check=True)
        while run.count_files(t.maildir) < 50:
            time.sleep(0.01)
        time.sleep(0.5)
        t.clear()
        s0 = snapshot(pid)
        j0 = run.jbd2_stats(base)
        t0 = time.time()
        subprocess.run(["smtp-source", "-d", "-m", str(a.count), "-s",
                        str(a.conc), "-l", str(a.size), "-f", "bench@remote.test",
                        "-t", "demo@example.test", f"127.0.0.1:{t.port}"],
                       check=True)
        t_acc = time.time() - t0
        while run.count_files(t.maildir) < a.count:
            time.sleep(0.01)
        t_del = time.time() - t0
        time.sleep(0.3)
        s1 = snapshot(pid)
        j1 = run.jbd2_stats(base)
        if j0 is not None and j1 is not None:
            n = j1[0] - j0[0]
            print(f"jbd2: {n} commits, {n / a.count:.2f} per message"
                  + (f", {j1[1]}" if j1[1] else ""))
    finally:
        if a.wrap:
            os.kill(pid, 15)    # master; the wrapper ends with it
            t.proc.wait(60)
        else:
            t.stop()
    return s0, s1, t_acc, t_del


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--conc", type=int, default=10)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--fs", choices=("root", "ext4", "xfs"), default="root")
    ap.add_argument("--wrap", help="run master under this command")
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("profile: run as root")
    run.ensure_tools()
    with run.bench_dir("tempest-profile-", a.fs) as base:
        s0, s1, t_acc, t_del = measure(a, base)
        if a.fs == "root":
            print("# tree: flex group "
                  f"{run.flex_group(os.path.join(base, 'tempest'))}")
    per = collections.Counter()
    for p, (role, c) in s1.items():
        per[role] += c - s0.get(p, (role, 0))[1]
    total = sum(per.values())
    if a.wrap:
        for p, (role, c) in sorted(s1.items()):
            print(f"pid {p} {role}")
    for role, c in per.most_common():
        print(f"{role:10s} {c / CLK / a.count * 1000:.3f} ms/msg")
    print(f"{'total':10s} {total / CLK / a.count * 1000:.3f} ms/msg  "
          f"accepted {a.count / t_acc:.0f}/s  delivered {a.count / t_del:.0f}/s  "
          f"(size {a.size}, {a.conc} sessions, {a.count} messages; "
          f"load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
