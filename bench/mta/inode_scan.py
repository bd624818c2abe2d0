#!/usr/bin/env python3
"""Which deletions make a server's file creations dear on ext4 without a
journal (bench/mta/README.md).  Not part of make test; run as root.

On ext4 without a journal the inode allocator (fs/ext4/ialloc.c,
find_inode_bit + recently_deleted) skips, one by one from the start of
the block group, every free inode whose deletion time is less than 60 s
old (360 s while its inode-table block is dirty).  An allocation that got
inode I in group G therefore walked over every inode of G below I that
was deleted recently.  This tool records the kernel's ext4_free_inode and
ext4_allocate_inode trace events (a tracefs instance of its own, nothing
else is changed) and, for every file created in one directory (the
Maildir's tmp/ by default: the directory with the most allocations by
the chosen command), counts the traced deletions it skipped, by the
process name and owner uid of the deleted inode.

  bench/mta/inode_scan.py record OUT --seconds 600   (start it minutes
      before the run to be examined: deletions up to 360 s old count)
  bench/mta/inode_scan.py report OUT [--comm tempest] [--dir INODE]
      [--ipg 8192]

Recording makes every inode allocation and deletion on the machine a
little dearer (an event per call): do not take CPU figures meanwhile.
The trace holds no file names, only inode numbers, process names and
owner uids.  Deletions before the recording started are not seen, so
the counts are a lower bound.
"""
import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import time

TRACEFS = "/sys/kernel/tracing"
LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): "
                  r"(ext4_free_inode|ext4_allocate_inode): dev (\S+) "
                  r"ino (\d+) (.*)$")


def record(out, seconds):
    inst = os.path.join(TRACEFS, "instances", f"inode-scan-{os.getpid()}")
    os.mkdir(inst)
    try:
        for ev in ("ext4_free_inode", "ext4_allocate_inode"):
            with open(os.path.join(inst, "events/ext4", ev, "enable"), "w") as f:
                f.write("1")
        with open(os.path.join(inst, "buffer_size_kb"), "w") as f:
            f.write("16384")
        with open(out, "w") as f:
            cat = subprocess.Popen(["cat", os.path.join(inst, "trace_pipe")],
                                   stdout=f)
            try:
                time.sleep(seconds)
            except KeyboardInterrupt:
                pass
            with open(os.path.join(inst, "tracing_on"), "w") as t:
                t.write("0")
            cat.send_signal(signal.SIGTERM)
            cat.wait()
    finally:
        for ev in ("ext4_free_inode", "ext4_allocate_inode"):
            with open(os.path.join(inst, "events/ext4", ev, "enable"), "w") as f:
                f.write("0")
        os.rmdir(inst)


def report(path, comm, dirino, ipg):
    events = []
    for line in open(path, errors="replace"):
        m = LINE.match(line)
        if m:
            c, _, t, ev, dev, ino, rest = m.groups()
            events.append((float(t), ev, dev, int(ino), c, rest))
    if not events:
        sys.exit("no events")
    if dirino is None:
        per_dir = collections.Counter(
            (e[2], int(e[5].split()[1])) for e in events
            if e[1] == "ext4_allocate_inode" and e[4] == comm)
        if not per_dir:
            sys.exit(f"no allocation by {comm}")
        (dev, dirino), _ = per_dir.most_common(1)[0]
    else:
        dev = None
    frees = {}          # (dev, ino) -> (time, who)
    skipped = collections.Counter()
    n = 0
    for t, ev, edev, ino, c, rest in events:
        if ev == "ext4_free_inode":
            uid = re.search(r"uid (\d+)", rest).group(1)
            frees[(edev, ino)] = (t, f"{c} uid={uid}")
            continue
        if int(rest.split()[1]) == dirino and (dev is None or edev == dev):
            n += 1
            lo = (ino - 1) // ipg * ipg + 1
            for (fdev, fino), (ft, who) in frees.items():
                if fdev == edev and lo <= fino < ino and t - ft < 360:
                    skipped[who] += 1
        frees.pop((edev, ino), None)
    print(f"{n} files created in directory inode {dirino}; recently deleted "
          f"inodes skipped per file: {sum(skipped.values()) / max(n, 1):.1f}")
    for who, k in skipped.most_common(15):
        print(f"  {k / max(n, 1):10.1f}  deleted by {who}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out")
    r.add_argument("--seconds", type=float, default=600)
    p = sub.add_parser("report")
    p.add_argument("trace")
    p.add_argument("--comm", default="tempest")
    p.add_argument("--dir", type=int)
    p.add_argument("--ipg", type=int, default=8192,
                   help="inodes per block group (statvfs inodes / groups "
                   "in /proc/fs/ext4/DEV/mb_groups)")
    a = ap.parse_args()
    if a.cmd == "record":
        record(a.out, a.seconds)
    else:
        report(a.trace, a.comm, a.dir, a.ipg)


if __name__ == "__main__":
    main()
