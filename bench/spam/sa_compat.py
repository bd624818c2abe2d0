#!/usr/bin/python3
"""bench/spam/sa_compat.py - how much of Debian's SpamAssassin rule set
Tempest loads, and whether each loaded rule hits the same messages as
`spamassassin -t -L` does.

    bench/spam/sa_compat.py [--tempest build/tempest] [--sample N]

Needs the Debian packages spamassassin (rules in /usr/share/spamassassin,
plugins in /etc/spamassassin/*.pre) and the corpus fetched by run.py.
Loading: SpamAssassin's own parser lists its tests by type; a non-eval
test (header, body, rawbody, uri, full, meta) counts as loaded when
Tempest parsed and compiled it (status active, disabled by a zero
score, meta-skipped: a meta on an eval: test Tempest does not implement,
or unneeded: a __ sub-rule no runnable rule uses, compiled but not run);
runnable = active or disabled.  Agreement: on a
sample of the corpus (every k-th message of each folder), both engines
run the same rules without Bayes or network tests; for each rule that
both report (scored, not __*), the share of messages where both agree
whether it hit.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "spam"))
import run  # noqa: E402

RULE_DIRS = ["/etc/spamassassin", "/usr/share/spamassassin"]
PERL = r'''
use Mail::SpamAssassin;
my $sa = Mail::SpamAssassin->new({local_tests_only=>1,
  rules_filename=>"/usr/share/spamassassin", site_rules_filename=>"/etc/spamassassin",
  userprefs_filename=>"/dev/null"});
$sa->init(1);
my $c = $sa->{conf};
for (sort keys %{$c->{test_types}}) { print "$_ $c->{test_types}->{$_}\n"; }
'''
# parsed and compiled (the pattern through PCRE2): runnable, disabled by a
# zero score, a meta on an unimplemented eval: test, or a __ sub-rule no
# runnable rule uses (compiled, never run: it could only matter through
# such a rule)
LOADED = ("active", "disabled", "meta-skipped", "unneeded")
NONEVAL = {8: "header", 10: "body", 12: "full", 14: "rawbody", 16: "uri", 18: "meta"}
EVAL = {9, 11, 13, 15, 17, 19}


def sa_tests():
    out = subprocess.run(["perl", "-e", PERL], capture_output=True, text=True).stdout
    return {n: int(t) for n, t in (l.split() for l in out.splitlines())}


def tempest_tests(tempest):
    args = [tempest, "spamc", "--lint", "--list"]
    for d in RULE_DIRS:
        args += ["--rules", d]
    out = subprocess.run(args, capture_output=True, text=True,
                         env=dict(os.environ, TEMPEST_CONFIG_DIR="/nonexistent"))
    st = {}
    for line in out.stdout.splitlines():
        p = line.split()
        if len(p) == 2:
            st[p[0]] = p[1]
    return st, out.stdout.splitlines()[-1]


def status_tests(text):
    """Rule names of an X-Spam-Status header (either form), unfolded."""
    m = re.search(r"^X-Spam-Status:(.*(?:\n[ \t].*)*)", text, re.M)
    if not m:
        return set()
    v = re.sub(r"\s+", " ", m.group(1))
    if "tests=[" in v:
        inner = v.split("tests=[", 1)[1].split("]", 1)[0]
        return {t.split("=")[0].strip() for t in inner.split(",") if t.strip()}
    inner = v.split("tests=", 1)[1] if "tests=" in v else ""
    inner = re.split(r" (?:autolearn|version|shortcircuit|autolearn_force)=", inner)[0]
    inner = inner.replace(" ", "")      # SpamAssassin folds after commas
    return {t for t in inner.split(",") if t and t != "none"}


def sa_hits(path):
    with open(path, "rb") as f:
        out = subprocess.run(["spamassassin", "-L", "-t", "-x",
                              "--cf=use_bayes 0", "--cf=bayes_auto_learn 0"],
                             stdin=f, capture_output=True)
    return status_tests(out.stdout.decode("latin-1"))


def tempest_hits(tempest, path):
    args = [tempest, "spamc", "--no-bayes"]
    for d in RULE_DIRS:
        args += ["--rules", d]
    with open(path, "rb") as f:
        out = subprocess.run(args, stdin=f, capture_output=True,
                             env=dict(os.environ, TEMPEST_CONFIG_DIR="/nonexistent"))
    return status_tests(out.stdout.decode("latin-1"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--sample", type=int, default=60)
    a = ap.parse_args()

    sa = sa_tests()
    tp, summary = tempest_tests(a.tempest)
    noneval = [n for n, t in sa.items() if t in NONEVAL]
    compiled = [n for n in noneval if tp.get(n) in LOADED]
    loaded = [n for n in noneval if tp.get(n) in ("active", "disabled")]
    evals = [n for n, t in sa.items() if t in EVAL]
    print("SpamAssassin %s rules: %d tests, %d non-eval, %d eval" % (
        subprocess.run(["spamassassin", "-V"], capture_output=True, text=True)
        .stdout.split("\n")[0].split()[-1], len(sa), len(noneval), len(evals)))
    print("Tempest parses and compiles %d of the %d non-eval tests (%.1f%%)" % (
        len(compiled), len(noneval), 100.0 * len(compiled) / len(noneval)))
    print("  of them unneeded (__ sub-rules no runnable rule uses, not run): %d"
          % sum(1 for n in noneval if tp.get(n) == "unneeded"))
    print("  of them runnable (not a meta on an unimplemented eval): %d (%.1f%%); by type:"
          % (len(loaded), 100.0 * len(loaded) / len(noneval)))
    for t, name in sorted(NONEVAL.items()):
        n = [x for x in noneval if sa[x] == t]
        ok = [x for x in n if tp.get(x) in ("active", "disabled")]
        comp = [x for x in n if tp.get(x) in LOADED]
        print("  %-8s runnable %4d, compiled %4d, of %4d" % (name, len(ok), len(comp), len(n)))
    print("eval tests Tempest implements: %d of %d (the rest are skipped and counted)"
          % (sum(1 for n in evals if tp.get(n) == "eval"), len(evals)))
    print("tempest --lint:", summary)

    data = run.fetch()
    files = []
    for g in sorted(run.GROUPS):
        names = sorted(f for f in os.listdir(os.path.join(data, g)) if f.endswith(".txt"))
        step = max(1, len(names) * len(run.GROUPS) // a.sample)
        files += [os.path.join(data, g, f) for f in names[::step]][: a.sample // len(run.GROUPS) + 1]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        sah = list(ex.map(sa_hits, files))
    tph = [tempest_hits(a.tempest, f) for f in files]
    reported = set().union(*sah, *tph)
    both = sorted(r for r in reported if tp.get(r) in ("active", "eval") and r in sa)
    agree = {}
    for r in both:
        agree[r] = sum(1 for s, t in zip(sah, tph) if (r in s) == (r in t)) / len(files)
    full = sum(1 for v in agree.values() if v == 1.0)
    print("\nagreement on %d messages, %d rules hit by either engine:" % (len(files), len(both)))
    print("  rules agreeing on every message: %d (%.1f%%)" % (full, 100.0 * full / max(1, len(both))))
    print("  mean per-rule agreement: %.2f%%" % (100.0 * sum(agree.values()) / max(1, len(both))))
    worst = sorted(agree.items(), key=lambda kv: kv[1])[:15]
    print("  lowest:", ", ".join("%s %.0f%%" % (r, 100 * v) for r, v in worst if v < 1))
    only_sa = collections.Counter(r for s, t in zip(sah, tph) for r in s - t if r in both)
    only_tp = collections.Counter(r for s, t in zip(sah, tph) for r in t - s if r in both)
    print("  most frequent SA-only hits:", only_sa.most_common(8))
    print("  most frequent Tempest-only hits:", only_tp.most_common(8))


if __name__ == "__main__":
    sys.exit(main())
