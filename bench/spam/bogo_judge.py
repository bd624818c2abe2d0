#!/usr/bin/python3
"""bench/spam/bogo_judge.py - bogofilter on judge.py's six training-half judgements.

    bench/spam/bogo_judge.py [--split S]... [--save PICKLE] [--join JUDGE_PICKLE]
                             [--margin POINTS]

The same partitions as judge.py (per split: the validation split, even
positions of the training half train and odd ones are judged, and
4-fold cross-validation, positions j % 4 != k train), trained and
judged with bogofilter's defaults (`bogofilter -s`, `-n`, then `-T`;
Unsure counts as ham, as in run.py).  The test half of a split is never
read.  Prints bogofilter's FP/FN per judgement.  With --join (a
`judge.py --save` pickle of the same splits) it also prints every ham
that Tempest scored within --margin points of spam_level or above it,
with Tempest's score, Bayes and LR probabilities next to bogofilter's
verdict and spamicity, and a table of Tempest's Bayes tier against
bogofilter's verdict.  For a single message, `bogofilter -d DB -vvv <
MSG` lists bogofilter's token clues (the fold's database is kept with
--keep DIR).
"""
import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import bayes_lab as bl  # noqa: E402

SPAM_LEVEL = 6.3


def parts():
    yield "val", lambda j: j % 2 == 0, lambda j: j % 2 == 1
    for k in range(4):
        yield "cv", (lambda k: lambda j: j % 4 != k)(k), (lambda k: lambda j: j % 4 == k)(k)


def judge_split(data, sp, keep=None):
    """{(judgement, 'group.file'): (kind, verdict S/H/U, spamicity)}"""
    res = {}
    msgs = bl.training_half(data, sp)
    for n, (name, train, judged) in enumerate(parts()):
        work = tempfile.mkdtemp(prefix="bogo-judge-")
        try:
            db = os.path.join(work, "db")
            os.makedirs(db)
            tr = {"spam": [], "ham": []}
            jd = []
            for g, f, kind, j in msgs:
                path = os.path.join(data, g, f)
                if train(j):
                    tr["spam" if kind == "spam" else "ham"].append(path)
                elif judged(j):
                    jd.append((g + "." + f, kind, path))
            for kind, flag in (("spam", "-s"), ("ham", "-n")):
                subprocess.run(["bogofilter", "-d", db, flag, "-B"] + tr[kind], check=True)
            out = subprocess.run(["bogofilter", "-d", db, "-T", "-B"] + [x[2] for x in jd],
                                 capture_output=True, text=True).stdout
            # (its exit status is the last message's verdict: 0 spam, 1 ham, 2 unsure)
            got = {}
            for line in out.splitlines():
                p = line.split()
                if len(p) >= 3:
                    got[p[0]] = (p[1], float(p[2]))
            for key, kind, path in jd:
                v, s = got.get(path, ("H", 0.0))
                res[(name, key)] = (kind, v, s)
            if keep:
                shutil.copytree(db, os.path.join(keep, "%s-%s%d" % (sp, name, n)))
        finally:
            shutil.rmtree(work)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", action="append", choices=sorted(run.SPLITS))
    ap.add_argument("--save", help="pickle bogofilter's verdicts here")
    ap.add_argument("--join", help="a judge.py --save pickle of the same splits")
    ap.add_argument("--margin", type=float, default=1.0)
    ap.add_argument("--keep", help="copy each fold's bogofilter database under this folder")
    a = ap.parse_args()
    if not shutil.which("bogofilter"):
        sys.exit("bogofilter is not installed")
    data = run.fetch()
    allres = {}
    print("| split | bogofilter validation FP/FN | bogofilter 4-fold CV FP/FN |")
    print("|---|---|---|")
    tf = tn = 0
    for sp in a.split or ["mod2", "swap", "mod3"]:
        res = judge_split(data, sp, a.keep)
        cells = []
        for name in ("val", "cv"):
            fp = sum(1 for (j, _), (kind, v, _s) in res.items()
                     if j == name and kind != "spam" and v == "S")
            fn = sum(1 for (j, _), (kind, v, _s) in res.items()
                     if j == name and kind == "spam" and v != "S")
            cells.append("%d/%d" % (fp, fn))
            tf, tn = tf + fp, tn + fn
        print("| %s | %s |" % (sp, " | ".join(cells)), flush=True)
        for (j, key), v in res.items():
            allres[(sp, j, key)] = v
    print("total FP/FN over the judgements: %d/%d" % (tf, tn))
    if a.save:
        with open(a.save, "wb") as fh:
            pickle.dump(allres, fh)
    if a.join:
        join(a, allres)


def tier(p):
    for lo, name in ((0.9999, ">= 0.9999"), (0.999, "0.999-0.9999"), (0.99, "0.99-0.999"),
                     (0.8, "0.8-0.99"), (0.2, "0.2-0.8")):
        if p >= lo:
            return name
    return "< 0.2"


def join(a, bogo):
    with open(a.join, "rb") as fh:
        saved = pickle.load(fh)
    near = []
    table = Counter()
    for (sp, j), rows in saved.items():
        for kind, score, bayes, lr, _hits, fname in rows:
            b = bogo.get((sp, j, fname))
            if b is None:
                continue
            table[(tier(bayes), kind == "spam", b[1])] += 1
            if kind != "spam" and score >= SPAM_LEVEL - a.margin:
                near.append((sp, j, fname, score, bayes, lr, b[1], b[2]))
    print("\nHam within %.1f points of spam_level or above (Tempest score, Bayes, LR; "
          "bogofilter verdict, spamicity):" % a.margin)
    for sp, j, fname, score, bayes, lr, v, s in sorted(near, key=lambda x: -x[3]):
        print("  %s %s %s %.3f bayes=%.6f lr=%.6f bogofilter=%s %.6f"
              % (sp, j, fname[:22], score, bayes, lr, v, s))
    print("\n| Tempest Bayes | ham: bogofilter S / U / H | spam: bogofilter S / U / H |")
    print("|---|---|---|")
    for t in ("< 0.2", "0.2-0.8", "0.8-0.99", "0.99-0.999", "0.999-0.9999", ">= 0.9999"):
        cell = []
        for spam in (False, True):
            cell.append(" / ".join(str(table[(t, spam, v)]) for v in "SUH"))
        print("| %s | %s |" % (t, " | ".join(cell)))


if __name__ == "__main__":
    sys.exit(main())
