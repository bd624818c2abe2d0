#!/usr/bin/python3
"""bench/spam/judge.py - the six training-half judgements with the real binary.

    bench/spam/judge.py [--tempest build/tempest] [--split S]... [--save PICKLE]
                        [--config DIR]
    bench/spam/judge.py --rescore PICKLE --lr lo:hi:points[:minbayes],... ...

For each split (default mod2, swap, mod3) it judges Tempest inside the
training half only, the way the lab scripts (bayes_lab.py, lr_lab.py
--six) do it in Python: the validation split (even positions of the
training half train, odd ones are judged; what run.py --validate does)
and 4-fold cross-validation (positions j % 4 != k train, j % 4 == k are
judged, k = 0..3).  Every part is trained as a user would train:
`tempest learn --spam DIR`, then `tempest learn --ham DIR`, then
`tempest spamc --batch` over the judged messages; FP/FN are summed over
the folds.  The test half of the split is never read.  Prints one row
per split and the total, and the CPU per judged message.  --save keeps
every judged message's score, Bayes and LR probabilities and tests, and
--rescore recomputes FP/FN from them with other LR_* points (what the
shipped LR_00 / LR_999 scores were chosen with; `none` = no LR points).
"""
import argparse
import os
import pickle
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import bayes_lab as bl  # noqa: E402


def parse_tests(out):
    """spamc --batch --tests output -> {name: (score, bayes, lr, {test: score})}"""
    res = {}
    for line in out.splitlines():
        if not line or line.startswith("#T "):
            continue
        v, sc, rest = line.split(" ", 2)
        name, bayes, lr, tests = rest.rsplit(" ", 3)
        hits = {}
        for h in tests[len("tests="):].split(","):
            if h:
                n, x = h.rsplit("=", 1)
                hits[n] = float(x)
        res[os.path.basename(name)] = (float(sc), float(bayes[6:]), float(lr[3:]), hits)
    return res


def judge(tempest, data, msgs, train_of, dump=None):
    """FP, FN, CPU ms, judged messages for one train/judge partition;
    dump: a list that gets (kind, score, bayes p, lr p, hits, file name)
    per judged message."""
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
        dfile = os.path.join(work, "dump") if dump is not None else None
        v, tl, tc, _ = run.run_tempest(tempest, train, testdir, work, dfile)
        if dfile:
            with open(dfile) as fh:
                for n, x in parse_tests(fh.read()).items():
                    dump.append((kinds[n],) + x + (n,))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fp = sum(1 for n, k in kinds.items() if k != "spam" and v.get(n))
    fn = sum(1 for n, k in kinds.items() if k == "spam" and not v.get(n, False))
    return fp, fn, tc, len(kinds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(run.ROOT, "build", "tempest"))
    ap.add_argument("--split", action="append", choices=sorted(run.SPLITS))
    ap.add_argument("--save", help="pickle every judged message's (kind, score, "
                    "Bayes p, LR p, tests) per judgement here, for rescore")
    ap.add_argument("--rescore", metavar="PICKLE",
                    help="no run: FP/FN of the saved judgements with other LR "
                    "points (--lr TIERS)")
    ap.add_argument("--lr", action="append", default=[],
                    help="LR points: lo:hi:points[:min bayes p],... (several --lr)")
    ap.add_argument("--config", metavar="DIR",
                    help="Tempest's configuration directory (main.cf) for "
                    "learn and spamc, instead of the built-in defaults")
    a = ap.parse_args()
    if a.rescore:
        return rescore(a)
    run.CONFIG_DIR = a.config and os.path.abspath(a.config)
    saved = {}
    data = run.fetch()
    tf = tn = 0
    cpu = nj = 0
    print("| split | validation FP/FN | 4-fold CV FP/FN |")
    print("|---|---|---|")
    for sp in a.split or ["mod2", "swap", "mod3"]:
        msgs = bl.training_half(data, sp)
        d = saved[(sp, "val")] = []
        fp, fn, c, n = judge(a.tempest, data, msgs, lambda j: j % 2 == 0, d)
        cells = ["%d/%d" % (fp, fn)]
        tf, tn, cpu, nj = tf + fp, tn + fn, cpu + c, nj + n
        cf = cn = 0
        d = saved[(sp, "cv")] = []
        for k in range(4):
            fp, fn, c, n = judge(a.tempest, data, msgs, lambda j, k=k: j % 4 != k, d)
            cf, cn, cpu, nj = cf + fp, cn + fn, cpu + c, nj + n
        cells.append("%d/%d" % (cf, cn))
        tf, tn = tf + cf, tn + cn
        print("| %s | %s |" % (sp, " | ".join(cells)), flush=True)
    print("total FP/FN over the judgements: %d/%d; CPU %.3f ms per judged message "
          "(learn excluded)" % (tf, tn, cpu / max(1, nj)))
    if a.save:
        with open(a.save, "wb") as fh:
            pickle.dump(saved, fh)


def rescore(a):
    """The saved judgements with the LR_* points replaced: each --lr is
    a variant, lo:hi:points[:min Bayes p] tiers separated by commas."""
    with open(a.rescore, "rb") as fh:
        saved = pickle.load(fh)
    keys = [(sp, j) for sp in ("mod2", "swap", "mod3") for j in ("val", "cv") if (sp, j) in saved]
    print("| LR points | %s | total |" % " | ".join("%s %s" % k for k in keys))
    print("|---|" + "---|" * (len(keys) + 1))
    for spec in ["as run"] + a.lr:
        tiers = []
        if spec not in ("as run", "none"):
            for t in spec.split(","):
                f = [float(x) for x in t.split(":")]
                tiers.append((f[0], f[1], f[2], f[3] if len(f) > 3 else -1.0))
        cells, tf, tn = [], 0, 0
        for k in keys:
            fp = fn = 0
            for kind, sc, pb, pl, hits in (r[:5] for r in saved[k]):
                if spec != "as run":
                    sc -= sum(v for n, v in hits.items() if n.startswith("LR_"))
                    for lo, hi, pts, minb in tiers:
                        if pl >= 0 and lo <= pl < hi and pb >= minb:
                            sc += pts
                spam = sc >= 6.3
                fp += kind != "spam" and spam
                fn += kind == "spam" and not spam
            cells.append("%d/%d" % (fp, fn))
            tf, tn = tf + fp, tn + fn
        print("| %s | %s | %d/%d |" % (spec, " | ".join(cells), tf, tn))


if __name__ == "__main__":
    sys.exit(main())
