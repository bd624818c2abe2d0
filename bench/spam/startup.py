#!/usr/bin/python3
"""bench/spam/startup.py - CPU of a one-message command-line scan.

    bench/spam/startup.py [--tempest build/tempest] [--baseline BIN]
                          [--runs N] [--message FILE]

The issue's target: with the compiled rules cached on disk, a
command-line scan (`tempest spamc < message`, no daemon) starts in under
20 ms.  Measured here for Tempest's own rules and for Debian's
SpamAssassin rules (/etc/spamassassin and /usr/share/spamassassin, when
the spamassassin package is installed), each from its rule cache (a
private directory, filled by a first run), and `tempest` without
arguments (the start of the process itself).  The anchor is bogofilter,
the other command-line classifier: one message against a word list of
the same 200 corpus messages Tempest's Bayes learns here (`--db`).

Each figure is the median CPU time (user + system, from wait4()) of N
runs, the commands taken in turn so that the machine's drift spreads
over all of them; with --baseline the same commands of a second binary
join the rotation and each line gets the ratio new / baseline.  The
message is a small ham from the benchmark corpus unless --message names
one.  Not part of `make test`.
"""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "spam"))
import run  # noqa: E402

SA_RULES = ["/etc/spamassassin", "/usr/share/spamassassin"]


def cpu_ms(argv, stdin_path, env):
    """CPU milliseconds (user + system) of one run of argv (exit 0, 1 or
    2: bogofilter's spam, ham, unsure; 2 is tempest's usage too)."""
    with open(stdin_path, "rb") as f:
        p = subprocess.Popen(argv, stdin=f, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1, 2):
        sys.exit("%s: exit %d" % (" ".join(argv), p.returncode))
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--baseline", help="a second tempest binary to compare with")
    ap.add_argument("--runs", type=int, default=31)
    ap.add_argument("--message")
    a = ap.parse_args()

    data = run.fetch()
    ham = sorted(glob.glob(os.path.join(data, "easy-ham-1", "*.txt")))
    spam = sorted(glob.glob(os.path.join(data, "spam-1", "*.txt")))
    msg = a.message or min(ham[:200], key=os.path.getsize)
    work = tempfile.mkdtemp(prefix="tempest-startup-")
    env = dict(os.environ, TEMPEST_CONFIG_DIR=os.path.join(work, "none"))
    try:
        bins = [("new", a.tempest)] + ([("base", a.baseline)] if a.baseline else [])
        cmds = []               # (label, which, argv)
        db = os.path.join(work, "bayes.db")
        subprocess.run([a.tempest, "learn", "--ham", "--db", db] + ham[:100],
                       env=env, check=True, capture_output=True)
        subprocess.run([a.tempest, "learn", "--spam", "--db", db] + spam[:100],
                       env=env, check=True, capture_output=True)
        for which, binary in bins:
            # the binaries may differ in cache format: a directory each
            own = os.path.join(work, "cache-own-" + which)
            sa = os.path.join(work, "cache-sa-" + which)
            os.mkdir(own)
            os.mkdir(sa)
            cmds.append(("tempest (no arguments)", which, [binary]))
            cmds.append(("spamc, own rules, Bayes", which,
                         [binary, "spamc", "--db", db, "--rules-cache", own]))
            if all(os.path.isdir(d) for d in SA_RULES):
                rules = sum((["--rules", d] for d in SA_RULES), [])
                cmds.append(("spamc, Debian's SpamAssassin rules", which,
                             [binary, "spamc", "--no-bayes", "--rules-cache", sa] + rules))
        if shutil.which("bogofilter"):
            wl = os.path.join(work, "bogo")
            os.mkdir(wl)
            subprocess.run(["bogofilter", "-d", wl, "-n", "-B"] + ham[:100], check=True)
            subprocess.run(["bogofilter", "-d", wl, "-s", "-B"] + spam[:100], check=True)
            cmds.append(("bogofilter (anchor)", "", ["bogofilter", "-d", wl, "-T"]))
        for _, _, argv in cmds:         # fill the caches, warm the page cache
            cpu_ms(argv, msg, env)
            cpu_ms(argv, msg, env)
        times = {i: [] for i in range(len(cmds))}
        for _ in range(a.runs):
            for i, (_, _, argv) in enumerate(cmds):
                times[i].append(cpu_ms(argv, msg, env))
        med = {(c[0], c[1]): statistics.median(times[i]) for i, c in enumerate(cmds)}
        print("message %s (%d bytes), %d runs each, median CPU ms (user + system)"
              % (os.path.basename(msg), os.path.getsize(msg), a.runs))
        bogo = med.get(("bogofilter (anchor)", ""))
        for (label, which), ms in med.items():
            if which == "base":
                continue
            line = "%-38s %7.2f" % (label, ms)
            if which == "new" and a.baseline:
                b = med[(label, "base")]
                line += "   baseline %7.2f   new/baseline %.2f" % (b, ms / b)
            if bogo and which == "new":
                line += "   / bogofilter %.2f" % (ms / bogo)
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
