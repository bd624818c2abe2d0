#!/usr/bin/env python3
"""MTA benchmark: Tempest side by side with a private Postfix instance.

Both servers run on loopback in this run, deliver to a Maildir for
virtual user demo@example.test, with no DNS, no content filter and no
client name lookups.  Postfix's smtp-source drives each of them:

  accepted/s   messages acknowledged (250 after DATA) per second
  delivered/s  messages per second until the last one is in the Maildir
  cpu ms/msg   server CPU time (user+sys of every server process,
               including reaped children) per message

for 1 KiB and 100 KiB messages at 1, 10 and 50 concurrent sessions; each
case runs --reps times (median reported) and the ratio is Tempest/Postfix
(of the medians; a second table gives each interleaved pair's ratio and
their median).
Needs root (Postfix's master) and a built build/tempest (`make`).  Debian's
postfix package (the anchor, and smtp-source) is installed when missing
by `scripts/bootstrap.sh bench` (scripts/packages/mta.bench, answered
"No configuration" so no system MTA is set up); none of this is part of
`make test`.  The private Postfix listens on 127.0.0.1 only, has no
client name lookups and no DNS (disable_dns_lookups, no resolv.conf in
its queue directory, nothing is sent to another host).  Usage:

  bench/mta/run.py [--reps 3] [--sizes 1024,102400] [--conc 1,10,50]
                   [--fs root|ext4|xfs]
  bench/mta/run.py --clean     (remove the trees earlier runs left)

--fs ext4 (or xfs) runs both servers on a fresh journaled file system
made for this run in an image file on a loop device (direct I/O to the
image, so a flush reaches the disk below), mounted over the benchmark
directory and removed at the end.  Default: root, a directory under
$TMPDIR in which each server's tree gets a flex group of its own
(chattr +T) and from which nothing is deleted during the run; the
trees are moved to $TMPDIR/tempest-bench-trash at the end.  Why: see
bench/mta/README.md (ext4 without a journal, as the root file system
here, makes every new inode skip the inodes deleted nearby in the last
minutes).  On a journaled file system each run's line also gives the
journal commits per message (from /proc/fs/jbd2: every fsync that
needs one waits for a commit, and commits of all processes are
serialised).
"""
import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import instance as instance_mod  # noqa: E402

TEMPEST = os.environ.get("TEMPEST_BIN", os.path.join(ROOT, "build", "tempest"))
CLK = os.sysconf("SC_CLK_TCK")
# Debian's pristine master.cf (installed whatever debconf answered)
POSTFIX_MASTER_CF = "/usr/share/postfix/master.cf.dist"


def ensure_tools():
    """Install Debian's postfix through the bootstrap lists if missing."""
    if shutil.which("smtp-source") and shutil.which("postfix") and \
            os.path.exists(POSTFIX_MASTER_CF):
        return
    if os.getuid() != 0:
        sys.exit("bench: needs root (and installs Debian's postfix: "
                 "scripts/bootstrap.sh bench)")
    subprocess.run([os.path.join(ROOT, "scripts", "bootstrap.sh"), "bench"],
                   check=True)
    if shutil.which("smtp-source") is None:
        sys.exit("bench: postfix installed but smtp-source not found")


TRASH = "tempest-bench-trash"


def spread_subdirs(path):
    """Mark path as the top of a directory hierarchy for ext4's Orlov
    allocator (chattr +T, EXT4_INODE_TOPDIR): each directory made in it
    goes to the flex group (16 block groups, 128 Ki inodes here) with the
    fewest directories, as a directory made in / does, and the files of
    that tree are then allocated in its own flex group.  False where the
    file system has no such flag (the bench runs anyway)."""
    return subprocess.run(["chattr", "+T", path], capture_output=True
                          ).returncode == 0


def flex_group(path, inodes_per_flex=16 * 8192):
    """The ext4 flex group of path's inode (mke2fs's default of 16 groups
    per flex group and 8192 inodes per group assumed; printed only)."""
    return (os.stat(path).st_ino - 1) // inodes_per_flex


@contextlib.contextmanager
def bench_dir(prefix, fs="root", size="4G"):
    """A fresh directory for both servers' instances, optionally a new
    journaled file system (fs = ext4 | xfs) on a loop device over an
    image file next to it, removed on exit.

    On the root file system the directory is marked with spread_subdirs(),
    so each server's tree (made by the caller in it) lives in a flex
    group of its own, away from the rest of $TMPDIR and from the other
    server, and nothing is deleted while the servers run.  On exit the
    directory is moved (not deleted) into $TMPDIR/tempest-bench-trash,
    which only `run.py --clean` empties.  Why (bench/mta/README.md): on
    ext4 without a journal every inode allocation skips, one by one, the
    free inodes of its block group deleted in the last 60-360 s, so the
    deletion of thousands of files near a server's Maildir makes that
    server's deliveries dearer for minutes, whichever run comes next."""
    if fs == "root":
        wait_after_clean()
    base = tempfile.mkdtemp(prefix=prefix)
    os.chmod(base, 0o755)
    img = loop = None
    trash = os.path.join(tempfile.gettempdir(), TRASH)
    try:
        if fs != "root":
            mkfs = {"ext4": ["mkfs.ext4", "-q", "-F"],
                    "xfs": ["mkfs.xfs", "-q", "-f"]}.get(fs)
            if mkfs is None or shutil.which(mkfs[0]) is None:
                sys.exit(f"bench: --fs {fs}: {mkfs[0] if mkfs else fs} "
                         "not available")
            img = base + ".img"
            subprocess.run(["truncate", "-s", size, img], check=True)
            loop = subprocess.run(["losetup", "-f", "--show", "--direct-io=on",
                                   img], check=True, capture_output=True,
                                  text=True).stdout.strip()
            subprocess.run(mkfs + [loop], check=True)
            subprocess.run(["mount", loop, base], check=True)
            os.chmod(base, 0o755)
        elif not spread_subdirs(base):
            print(f"# {base}: chattr +T failed (not ext4?); the server "
                  "trees share the directory's allocation group", flush=True)
        yield base
    finally:
        if loop is not None:
            for _ in range(50):     # processes may still be exiting
                if subprocess.run(["umount", base]).returncode == 0:
                    break
                time.sleep(0.2)
            subprocess.run(["losetup", "-d", loop])
        if img is not None:
            os.unlink(img)
        if fs == "root" and os.path.isdir(base):
            os.makedirs(trash, exist_ok=True)
            os.rename(base, os.path.join(trash, os.path.basename(base)))
            print(f"# the servers' trees were moved to {trash}: "
                  "`bench/mta/run.py --clean` removes them (not while "
                  "another benchmark runs)", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


# ext4's longest "recently deleted" time (RECENTCY_MIN + RECENTCY_DIRTY)
RECENTCY_S = 360


def clean_trash():
    """Remove the trees earlier runs left in the trash (bench_dir), and
    note when (wait_after_clean)."""
    trash = os.path.join(tempfile.gettempdir(), TRASH)
    if os.path.isdir(trash):
        shutil.rmtree(trash)
        with open(trash + ".removed", "w") as f:
            f.write(f"{time.time()}\n")
        print(f"removed {trash}")


def wait_after_clean():
    """Sleep until the last clean_trash() is RECENTCY_S old: its deletions
    are in the flex groups Orlov gives the next run's trees (the same
    names), and would make that run's file creations dearer."""
    try:
        with open(os.path.join(tempfile.gettempdir(), TRASH + ".removed")) as f:
            left = float(f.read()) + RECENTCY_S - time.time()
    except (OSError, ValueError):
        return
    if left > 0:
        print(f"# waiting {left:.0f} s: the trash was removed less than "
              f"{RECENTCY_S} s ago", flush=True)
        time.sleep(left)


def jbd2_stats(mountpoint):
    """(transactions so far, the 'average time' lines) of the journal of
    the file system mounted at mountpoint, or None (no journal)."""
    dev = None
    with open("/proc/self/mounts") as f:
        for line in f:
            src, mnt = line.split()[:2]
            if mnt == mountpoint:
                dev = os.path.basename(src)
    if dev is None:
        return None
    try:
        with open(f"/proc/fs/jbd2/{dev}-8/info") as f:
            info = f.read()
    except OSError:
        return None
    n = int(info.split()[0])
    avg = "; ".join(" ".join(x.split()) for x in info.splitlines()
                    if "ms " in x and ("commit" in x or "logging" in x))
    return n, avg


def proc_tree_cpu(root_pid):
    """CPU seconds of root_pid and all its live descendants (incl. reaped)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                parent[int(d)] = (int(st[1]), st)
            except OSError:
                pass
    todo, seen, total = [root_pid], set(), 0
    while todo:
        p = todo.pop()
        if p in seen or p not in parent:
            continue
        seen.add(p)
        st = parent[p][1]
        total += sum(int(x) for x in st[11:15])   # utime stime cutime cstime
        todo += [c for c, (pp, _) in parent.items() if pp == p]
    return total / CLK


_moved = [0]


def empty_maildir(maildir, owner):
    """Fresh new/ cur/ tmp/ for the next run.  The old ones are moved
    aside (deleted only when the benchmark ends), not deleted now: on ext4
    without a journal, as here, every new inode's allocation scans the
    inodes freed in its block group in the last 60-360 s, so deleting
    thousands of delivered files between runs made the next run's file
    creations dearer for whichever server came next (and more so rep
    after rep)."""
    old = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(maildir)))), "old")
    os.makedirs(old, exist_ok=True)
    for sub in ("new", "cur", "tmp"):
        p = os.path.join(maildir, sub)
        if os.path.exists(p):
            _moved[0] += 1
            os.rename(p, os.path.join(old, f"{_moved[0]}-{sub}"))
        os.makedirs(p)
        if owner is not None:
            os.chown(p, owner.pw_uid, owner.pw_gid)


def count_files(d):
    n = 0
    for sub in ("new", "cur"):
        try:
            n += len(os.listdir(os.path.join(d, sub)))
        except FileNotFoundError:
            pass
    return n


class Tempest:
    name = "tempest"

    def __init__(self, base, port):
        self.dir = os.path.join(base, "tempest")
        self.port = port
        # every listener on a port of its own near `port`: the default
        # ports (2587, 2143, ...) may belong to a `make run` instance
        ports = {name: port + 100 + i for i, name in
                 enumerate(sorted(instance_mod.DEFAULT_PORTS))}
        ports["smtp"] = port
        instance_mod.create(self.dir, ports, {
            "maillog_file": os.path.join(self.dir, "maillog"),
            "message_size_limit": "0"}, force=True, quiet=True)
        self.maildir = os.path.join(self.dir, "mail/example.test/demo")

    def start(self):
        self.proc = subprocess.Popen([TEMPEST, "-c", os.path.join(self.dir, "etc"),
                                      "start-fg"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def clear(self):
        import pwd
        empty_maildir(self.maildir,
                      pwd.getpwnam("tempest") if os.getuid() == 0 else None)


class Postfix:
    name = "postfix"

    def __init__(self, base, port):
        import pwd
        self.dir = os.path.join(base, "postfix")
        self.port = port
        etc = os.path.join(self.dir, "etc")
        os.makedirs(etc, exist_ok=True)
        pw = pwd.getpwnam("postfix")
        vm = pwd.getpwnam("tempest") if os.getuid() == 0 else pw
        self.maildir = os.path.join(self.dir, "mail/example.test/demo")
        os.makedirs(self.maildir, exist_ok=True)
        for root, dirs, files in os.walk(os.path.join(self.dir, "mail")):
            os.chown(root, vm.pw_uid, vm.pw_gid)
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
myhostname = bench.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = {self.dir}/queue
data_directory = {self.dir}/data
mail_owner = postfix
setgid_group = postdrop
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtputf8_enable = no
message_size_limit = 0
virtual_mailbox_limit = 0
mailbox_size_limit = 0
maillog_file = {self.dir}/maillog
maillog_file_prefixes = {self.dir}
virtual_mailbox_domains = example.test
virtual_mailbox_base = {self.dir}/mail
virtual_mailbox_maps = texthash:{etc}/vmailbox
virtual_uid_maps = static:{vm.pw_uid}
virtual_gid_maps = static:{vm.pw_gid}
alias_maps =
alias_database =
local_recipient_maps =
""")
        with open(os.path.join(etc, "vmailbox"), "w") as f:
            f.write("demo@example.test example.test/demo/\n")
        shutil.copy(POSTFIX_MASTER_CF, os.path.join(etc, "master.cf"))
        with open(os.path.join(etc, "master.cf")) as f:
            mc = f.read()
        mc = mc.replace("smtp      inet  n       -       y       -       -       smtpd",
                        f"127.0.0.1:{port} inet  n       -       n       -       -       smtpd")
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(mc)
        self.etc = etc
        os.makedirs(os.path.join(self.dir, "queue"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.chown(os.path.join(self.dir, "data"), pw.pw_uid, pw.pw_gid)
        subprocess.run(["postfix", "-c", etc, "post-install",
                        "create-missing"], check=False, capture_output=True)

    def start(self):
        subprocess.run(["postfix", "-c", self.etc, "start"], check=True,
                       capture_output=True)
        wait_port(self.port)
        with open(os.path.join(self.dir, "queue/pid/master.pid")) as f:
            return int(f.read().strip())

    def stop(self):
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True)
        time.sleep(1)

    def clear(self):
        import pwd
        empty_maildir(self.maildir, pwd.getpwnam("tempest"))


def wait_port(port, timeout=15):
    import socket
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def run_case(srv, pid, size, conc, count, base=None):
    srv.clear()
    j0 = jbd2_stats(base) if base else None
    cpu0 = proc_tree_cpu(pid)
    t0 = time.time()
    p = subprocess.run(["smtp-source", "-c" if False else "-d", "-m", str(count),
                        "-s", str(conc), "-l", str(size), "-f", "bench@remote.test",
                        "-t", "demo@example.test", f"127.0.0.1:{srv.port}"],
                       capture_output=True, text=True)
    t_acc = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{srv.name}: smtp-source failed: {p.stderr}")
    while count_files(srv.maildir) < count:
        if time.time() - t0 > 600:
            raise TimeoutError(f"{srv.name}: only {count_files(srv.maildir)}")
        time.sleep(0.01)
    t_del = time.time() - t0
    time.sleep(0.3)   # let the last bookkeeping finish before reading CPU
    cpu = proc_tree_cpu(pid) - cpu0
    j1 = jbd2_stats(base) if j0 is not None else None
    commits = (j1[0] - j0[0]) / count if j1 is not None else None
    return count / t_acc, count / t_del, cpu / count * 1000, commits


def run_all(a, base):
    servers = [Tempest(base, 26525), Postfix(base, 26526)]
    if a.fs == "root":
        print("# trees: " + ", ".join(f"{s.name} flex group "
                                      f"{flex_group(s.dir)}" for s in servers),
              flush=True)
    pids = {s.name: s.start() for s in servers}
    results = {}
    try:
        for size in [int(x) for x in a.sizes.split(",")]:
            count = a.count_1k if size <= 4096 else a.count_100k
            for conc in [int(x) for x in a.conc.split(",")]:
                for rep in range(a.reps):
                    for s in servers:   # interleaved: same conditions
                        r = run_case(s, pids[s.name], size, conc, count, base)
                        results.setdefault((size, conc, s.name), []).append(r[:3])
                        print(f"# {s.name} size={size} conc={conc} rep={rep}: "
                              f"acc={r[0]:.0f}/s del={r[1]:.0f}/s cpu={r[2]:.3f}ms"
                              + (f" journal commits/msg={r[3]:.2f}"
                                 if r[3] is not None else ""), flush=True)
    finally:
        for s in servers:
            s.stop()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", default="1024,102400")
    ap.add_argument("--conc", default="1,10,50")
    ap.add_argument("--count-1k", type=int, default=2000)
    ap.add_argument("--count-100k", type=int, default=500)
    ap.add_argument("--fs", choices=("root", "ext4", "xfs"), default="root")
    ap.add_argument("--clean", action="store_true",
                    help="only remove the trees earlier runs on the root "
                    "file system left in $TMPDIR/tempest-bench-trash")
    a = ap.parse_args()
    if a.clean:
        clean_trash()
        return
    if os.getuid() != 0:
        sys.exit("bench: run as root (Postfix's master needs it)")
    ensure_tools()
    if not os.access(TEMPEST, os.X_OK):
        sys.exit(f"bench: {TEMPEST} missing: run make first")
    with bench_dir("tempest-bench-", a.fs) as base:
        results = run_all(a, base)
    print()
    print("| size | sessions | Tempest acc/s | Postfix acc/s | ratio | Tempest "
          "deliv/s | Postfix deliv/s | ratio | Tempest CPU ms/msg | Postfix CPU "
          "ms/msg | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in [int(x) for x in a.sizes.split(",")]:
        for conc in [int(x) for x in a.conc.split(",")]:
            t = [statistics.median(x) for x in zip(*results[(size, conc, "tempest")])]
            p = [statistics.median(x) for x in zip(*results[(size, conc, "postfix")])]
            print(f"| {size // 1024} KiB | {conc} | {t[0]:.0f} | {p[0]:.0f} | "
                  f"{t[0] / p[0]:.2f} | {t[1]:.0f} | {p[1]:.0f} | {t[1] / p[1]:.2f} | "
                  f"{t[2]:.3f} | {p[2]:.3f} | {p[2] / t[2]:.2f}x less |")
    # The runs are interleaved (Tempest, Postfix, Tempest, ...), so each
    # repetition is a pair measured under the same machine load; the
    # median of the pairs' ratios is printed next to the ratio of the
    # medians above, not instead of it.
    print()
    print("| size | sessions | accepted ratio per pair | median | delivered "
          "ratio per pair | median | CPU ratio per pair | median |")
    print("|---|---|---|---|---|---|---|---|")
    for size in [int(x) for x in a.sizes.split(",")]:
        for conc in [int(x) for x in a.conc.split(",")]:
            tr = results[(size, conc, "tempest")]
            pr = results[(size, conc, "postfix")]
            acc = [x[0] / y[0] for x, y in zip(tr, pr)]
            dl = [x[1] / y[1] for x, y in zip(tr, pr)]
            cpu = [y[2] / x[2] for x, y in zip(tr, pr)]
            f = lambda v: " / ".join(f"{r:.2f}" for r in v)  # noqa: E731
            print(f"| {size // 1024} KiB | {conc} | {f(acc)} | "
                  f"{statistics.median(acc):.2f} | {f(dl)} | "
                  f"{statistics.median(dl):.2f} | {f(cpu)} | "
                  f"{statistics.median(cpu):.2f} |")


if __name__ == "__main__":
    main()
