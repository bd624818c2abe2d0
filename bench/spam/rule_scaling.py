#!/usr/bin/python3
"""bench/spam/rule_scaling.py - scan time against the number of rules.

    bench/spam/rule_scaling.py [--tempest build/tempest] [--messages N]
                               [--runs R] [--points 100,1000,all]
                               [--lint-tempest BIN]

Loads Debian's SpamAssassin rule set (spamassassin package) into Tempest.
Of its ~2,700 tests, about 1,300 run per message (with Debian 4.0.1: 509
scored tests and the 789 "__" sub-rules their metas need; the others are
network or plugin tests, score 0 without them, or sub-rules nothing
uses).  The x axis is that number, "rules run per message" (`spamc --lint
--list` status active or eval): for each point the script keeps the first
K scored tests (in `--lint --list` order, every other one given a score
of 0, which disables it) with K chosen as the smallest that makes at
least that many rules run (sub-rules come with the metas that need
them), "all" keeps everything.

Each point scores the same corpus sample (N messages of the benchmark
corpus, no Bayes) with `tempest spamc --batch`, with the Vectorscan
prefilter (default) and without it (--no-prefilter: every pattern through
PCRE2 alone), R times each, and reports the smallest CPU ms per message
that spamc itself measures (start-up excluded; the machine is shared, the
minimum is the steadiest figure) and the start-up of that run (rules
parsed and compiled, no rule cache).  Not part of `make test`.
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


def lint(tempest, extra=None):
    """[(name, status)] of `spamc --lint --list`."""
    out = subprocess.run([tempest, "spamc", "--lint", "--list"] + rules_args(extra),
                         capture_output=True, text=True, env=ENV).stdout.splitlines()
    return [tuple(l.split()[:2]) for l in out[:-1]]


def running(statuses):
    return sum(1 for _, s in statuses if s in ("active", "eval"))


def write_keep(cf, scored, k):
    with open(cf, "w") as fh:
        for name in scored[k:]:
            fh.write("score %s 0\n" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--messages", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--points", default="100,1000,all")
    ap.add_argument("--lint-tempest", help="the tempest whose `spamc --lint --list` "
                    "chooses the points (default --tempest; for measuring an older "
                    "build, whose list has no 'unneeded' status, at the same points)")
    a = ap.parse_args()
    lt = a.lint_tempest or a.tempest
    full = lint(lt)
    scored = [n for n, s in full if s in ("active", "eval") and not n.startswith("__")]
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
    cf = os.path.join(work, "zz_keep.cf")
    print("loaded tests: %d (and %d score-only names); run per message with "
          "everything kept: %d (%d scored + %d sub-rules)" % (
              sum(1 for _, st in full if st != "score-only"),
              sum(1 for _, st in full if st == "score-only"),
              running(full), len(scored), running(full) - len(scored)))
    print()
    print("| rules run per message | scored tests kept | PCRE2 only: CPU ms/msg "
          "| start-up ms | with prefilter: CPU ms/msg | start-up ms "
          "| rules prefiltered |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    try:
        for p in a.points.split(","):
            if p == "all":
                k = len(scored)
            else:
                # smallest k with at least p rules running
                lo, hi = 1, len(scored)
                while lo < hi:
                    mid = (lo + hi) // 2
                    write_keep(cf, scored, mid)
                    if running(lint(lt, cf)) >= int(p):
                        hi = mid
                    else:
                        lo = mid + 1
                k = lo
            write_keep(cf, scored, k)
            nrun = running(lint(lt, cf))
            cols = []
            for opt in (["--no-prefilter"], []):
                best = None
                for _ in range(a.runs):
                    r = subprocess.run([a.tempest, "spamc", "--batch", "--no-bayes",
                                        "--rules-cache", ""] + opt +
                                       rules_args(cf) + [sample],
                                       capture_output=True, text=True, env=ENV)
                    # "spamc: N message(s), X ms CPU per message (Y ms start-up,
                    # P rules prefiltered"
                    m = re.search(r"([0-9.]+) ms CPU per message \(([0-9.]+) ms start-up, "
                                  r"([0-9]+) rules prefiltered", r.stderr)
                    if m is None:
                        sys.exit("spamc failed: " + r.stderr[-500:])
                    g = (float(m.group(1)), float(m.group(2)), int(m.group(3)))
                    if best is None or g[0] < best[0]:
                        best = g
                cols.append(best)
            rows.append((nrun, cols))
            print("| %d | %d | %.3f | %.0f | %.3f | %.0f | %d |" % (
                nrun, k, cols[0][0], cols[0][1], cols[1][0], cols[1][1], cols[1][2]),
                flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(rows) >= 2:
        (n0, c0), (n1, c1) = rows[0], rows[-1]
        print("\nfrom %d to %d rules (x%.1f): PCRE2 only x%.2f, with prefilter x%.2f" % (
            n0, n1, n1 / n0, c1[0][0] / c0[0][0], c1[1][0] / c0[1][0]))
    print("(%d messages, best of %d runs; no Bayes, no rule cache)" % (a.messages, a.runs))


if __name__ == "__main__":
    sys.exit(main())
