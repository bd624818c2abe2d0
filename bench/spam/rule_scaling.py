#!/usr/bin/python3
"""bench/spam/rule_scaling.py - scan time against the number of rules.

    bench/spam/rule_scaling.py [--tempest build/tempest] [--messages N]

Loads Debian's SpamAssassin rule set (spamassassin package) into Tempest
and keeps only the first K runnable rules (in `spamc --lint --list`
order) by giving every other rule a score of 0 (which disables it), for
K = 100, 250 and all (509 with Debian 4.0.1: the other scored rules are network tests or score 0 without them); then scores the same corpus sample (N messages of
the benchmark corpus, no Bayes) with `tempest spamc --batch` and reports
the CPU milliseconds per message that spamc itself measures, with the
Vectorscan prefilter (default) and without it (--no-prefilter: every
pattern through PCRE2 alone).  Not part of `make test`.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "spam"))
import run  # noqa: E402

RULE_DIRS = ["/etc/spamassassin", "/usr/share/spamassassin"]
ENV = dict(os.environ, TEMPEST_CONFIG_DIR="/nonexistent")


def rules_args(extra=None):
    a = []
    for d in RULE_DIRS + ([extra] if extra else []):
        a += ["--rules", d]
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--messages", type=int, default=600)
    a = ap.parse_args()
    out = subprocess.run([a.tempest, "spamc", "--lint", "--list"] + rules_args(),
                         capture_output=True, text=True, env=ENV).stdout.splitlines()
    runnable = [l.split()[0] for l in out[:-1]
                if l.split()[1] in ("active", "eval") and not l.startswith("__")]
    data = run.fetch()
    work = tempfile.mkdtemp(prefix="spam-scale-")
    sample = os.path.join(work, "sample")
    os.makedirs(sample)
    files = []
    for g in sorted(run.GROUPS):
        names = sorted(f for f in os.listdir(os.path.join(data, g)) if f.endswith(".txt"))
        files += [os.path.join(data, g, f) for f in names]
    step = max(1, len(files) // a.messages)
    for f in files[::step][: a.messages]:
        os.symlink(f, os.path.join(sample, os.path.basename(os.path.dirname(f)) + "." + os.path.basename(f)))
    print("| scored rules kept | PCRE2 only: CPU ms/msg | start-up ms "
          "| with prefilter: CPU ms/msg | start-up ms | rules prefiltered |")
    print("|---|---|---|---|---|---|")
    try:
        for k in (100, 250, len(runnable)):
            cf = os.path.join(work, "zz_keep.cf")
            with open(cf, "w") as fh:
                for name in runnable[k:]:
                    fh.write("score %s 0\n" % name)
            cols = []
            for opt in (["--no-prefilter"], []):
                r = subprocess.run([a.tempest, "spamc", "--batch", "--no-bayes"] + opt +
                                   rules_args(cf) + [sample],
                                   capture_output=True, text=True, env=ENV)
                # "spamc: N message(s), X ms CPU per message (Y ms start-up,
                # P rules prefiltered)"
                m = re.search(r"([0-9.]+) ms CPU per message \(([0-9.]+) ms start-up, "
                              r"([0-9]+) rules prefiltered", r.stderr)
                cols.append(m.groups())
            print("| %d | %s | %s | %s | %s | %s |" % (
                min(k, len(runnable)), cols[0][0], cols[0][1], cols[1][0], cols[1][1],
                cols[1][2]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n(%d messages; __* sub-rules always run when a kept meta needs them)"
          % a.messages)


if __name__ == "__main__":
    sys.exit(main())
