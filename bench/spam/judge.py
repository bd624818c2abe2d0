#!/usr/bin/python3
"""bench/spam/judge.py - the six training-half judgements with the real binary.

    bench/spam/judge.py [--tempest build/tempest] [--split S]...

For each split (default mod2, swap, mod3) it judges Tempest inside the
training half only, the way the lab scripts (bayes_lab.py, lr_lab.py
--six) do it in Python: the validation split (even positions of the
training half train, odd ones are judged; what run.py --validate does)
and 4-fold cross-validation (positions j % 4 != k train, j % 4 == k are
judged, k = 0..3).  Every part is trained as a user would train:
`tempest learn --spam DIR`, then `tempest learn --ham DIR`, then
`tempest spamc --batch` over the judged messages; FP/FN are summed over
the folds.  The test half of the split is never read.  Prints one row
per split and the total, and the CPU per judged message.
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import bayes_lab as bl  # noqa: E402


def judge(tempest, data, msgs, train_of):
    """FP, FN, CPU ms, judged messages for one train/judge partition."""
    work = tempfile.mkdtemp(prefix="spam-judge-")
    try:
        train = {"spam": os.path.join(work, "train-spam"),
                 "ham": os.path.join(work, "train-ham")}
        testdir = os.path.join(work, "test")
        for d in list(train.values()) + [testdir]:
            os.makedirs(d)
        kinds = {}
        for g, f, kind, j in msgs:
            name = g + "." + f
            if train_of(j):
                dst = os.path.join(train["spam" if kind == "spam" else "ham"], name)
            else:
                dst = os.path.join(testdir, name)
                kinds[name] = kind
            os.symlink(os.path.join(data, g, f), dst)
        v, tl, tc, _ = run.run_tempest(tempest, train, testdir, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fp = sum(1 for n, k in kinds.items() if k != "spam" and v.get(n))
    fn = sum(1 for n, k in kinds.items() if k == "spam" and not v.get(n, False))
    return fp, fn, tc, len(kinds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(run.ROOT, "build", "tempest"))
    ap.add_argument("--split", action="append", choices=sorted(run.SPLITS))
    a = ap.parse_args()
    data = run.fetch()
    tf = tn = 0
    cpu = nj = 0
    print("| split | validation FP/FN | 4-fold CV FP/FN |")
    print("|---|---|---|")
    for sp in a.split or ["mod2", "swap", "mod3"]:
        msgs = bl.training_half(data, sp)
        fp, fn, c, n = judge(a.tempest, data, msgs, lambda j: j % 2 == 0)
        cells = ["%d/%d" % (fp, fn)]
        tf, tn, cpu, nj = tf + fp, tn + fn, cpu + c, nj + n
        cf = cn = 0
        for k in range(4):
            fp, fn, c, n = judge(a.tempest, data, msgs, lambda j, k=k: j % 4 != k)
            cf, cn, cpu, nj = cf + fp, cn + fn, cpu + c, nj + n
        cells.append("%d/%d" % (cf, cn))
        tf, tn = tf + cf, tn + cn
        print("| %s | %s |" % (sp, " | ".join(cells)), flush=True)
    print("total FP/FN over the judgements: %d/%d; CPU %.3f ms per judged message "
          "(learn excluded)" % (tf, tn, cpu / max(1, nj)))


if __name__ == "__main__":
    sys.exit(main())
