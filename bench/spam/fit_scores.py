#!/usr/bin/python3
"""bench/spam/fit_scores.py - fit rule and BAYES_* scores on the training half.

    bench/spam/bayes_lab.py collect            # once: tokens + rule hits
    bench/spam/fit_scores.py [--split S] [--ham-cost C] [--l2 L] [--folds K]
                             [--bayes k=v,...] [--write]

Model: a message is spam when the sum of its rule scores (score set 2:
rules + BAYES_* tiers) is >= spam_level (6.3), as in the engine.  The
scores are fitted by minimising an asymmetric logistic loss

    sum_spam log(1 + e^-(s - 6.3)) + C * sum_ham log(1 + e^(s - 6.3))
        + L * sum_rules (w - w_hand)^2

(C = cost of a false positive in false negatives; the L2 term pulls every
score to its hand-set value, so rules that hit few messages keep about
their score).  Bayes probabilities are out-of-fold: the training half is
cut into K folds by position (j % K), and each fold's messages are
classified by a model trained on the other folds (bayes_lab.py's
re-implementation of bayes.c).  The fit is judged by K-fold
cross-validation (scores fitted on K-1 folds, FP/FN counted on the
held-out fold) before it is fitted once on the whole training half
(--write prints the score lines for rules/*.cf).  Nothing here reads
the test half.
"""
import argparse
import math
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bayes_lab as L  # noqa: E402

LEVEL = L.SPAM_LEVEL


def bayes_feats(p):
    return [n for n, lo, hi in L.BAYES_TIERS if lo <= p < hi]


def oof_bayes(rows, P, K):
    """Out-of-fold Bayes probability for every row (K folds by j % K)."""
    probs = [None] * len(rows)
    for k in range(K):
        tr = [r for r in rows if r["j"] % K != k]
        m = L.train_model(tr, P.get("regime", "all"), P)
        for i, r in enumerate(rows):
            if r["j"] % K == k:
                p, S, H, n = L.classify(m, r["tok"], P)
                probs[i] = L.adjust(p, S, H, P)
    return probs


def design(rows, probs, extra=None):
    """Per message: list of feature names that fire."""
    X = []
    for r, p in zip(rows, probs):
        f = list(r["hits"].keys()) + bayes_feats(p)
        if extra:
            f += extra(r, p)
        X.append(f)
    return X


def fit(X, y, w0, C, lam, iters=400, lr=0.05, bounds=None):
    """Adam on the asymmetric logistic loss; returns {feature: weight}."""
    names = sorted(w0)
    idx = {n: i for i, n in enumerate(names)}
    w = [w0[n] for n in names]
    prior = list(w)
    Xi = [[idx[f] for f in x if f in idx] for x in X]
    m1 = [0.0] * len(w)
    m2 = [0.0] * len(w)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iters + 1):
        g = [2 * lam * (w[i] - prior[i]) for i in range(len(w))]
        for xi, yi in zip(Xi, y):
            s = sum(w[i] for i in xi) - LEVEL
            if yi:
                # d/ds log(1+e^-s) = -1/(1+e^s)
                d = -1.0 / (1.0 + math.exp(min(50, s)))
            else:
                d = C / (1.0 + math.exp(min(50, -s)))
            for i in xi:
                g[i] += d
        for i in range(len(w)):
            m1[i] = b1 * m1[i] + (1 - b1) * g[i]
            m2[i] = b2 * m2[i] + (1 - b2) * g[i] * g[i]
            mh = m1[i] / (1 - b1 ** t)
            vh = m2[i] / (1 - b2 ** t)
            w[i] -= lr * mh / (math.sqrt(vh) + eps)
            if bounds:
                lo, hi = bounds(names[i])
                w[i] = min(hi, max(lo, w[i]))
    return dict(zip(names, w))


def count(X, y, w, level=LEVEL):
    fp = fn = 0
    for x, yi in zip(X, y):
        s = sum(w.get(f, 0.0) for f in x)
        if yi and s < level:
            fn += 1
        if not yi and s >= level:
            fp += 1
    return fp, fn


def hand_scores(rows):
    w0 = dict(L.W_NOW)
    for r in rows:
        for n, s in r["hits"].items():
            w0[n] = s
    return w0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="mod2")
    ap.add_argument("--ham-cost", type=float, default=50.0)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--bayes", default="", help="bayes_lab parameters k=v,...")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--nonneg", action="store_true",
                    help="rules keep the sign of their hand-set score")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    with open(L.lab_path(a.split), "rb") as fh:
        rows = pickle.load(fh)
    P = L.parse_exp(a.bayes) if a.bayes else dict(L.C_NOW)
    probs = oof_bayes(rows, P, a.folds)
    X = design(rows, probs)
    y = [r["kind"] == "spam" for r in rows]
    w0 = hand_scores(rows)
    bounds = None
    if a.nonneg:
        def bounds(n):
            return (0.0, 20.0) if w0[n] > 0 else (-20.0, 0.0) if w0[n] < 0 else (-20, 20)
    nh = sum(1 for v in y if not v)
    ns = len(y) - nh
    fp0, fn0 = count(X, y, w0)
    print("hand-set scores, out-of-fold Bayes (%d folds): FP %d/%d (%.2f%%) FN %d/%d (%.2f%%)"
          % (a.folds, fp0, nh, L.pct(fp0, nh), fn0, ns, L.pct(fn0, ns)))
    tfp = tfn = 0
    for k in range(a.folds):
        tr = [i for i, r in enumerate(rows) if r["j"] % a.folds != k]
        te = [i for i, r in enumerate(rows) if r["j"] % a.folds == k]
        w = fit([X[i] for i in tr], [y[i] for i in tr], w0, a.ham_cost, a.l2,
                a.iters, bounds=bounds)
        fp, fn = count([X[i] for i in te], [y[i] for i in te], w)
        tfp += fp
        tfn += fn
    print("fitted (C=%g, L2=%g), %d-fold CV: FP %d/%d (%.2f%%) FN %d/%d (%.2f%%)"
          % (a.ham_cost, a.l2, a.folds, tfp, nh, L.pct(tfp, nh), tfn, ns, L.pct(tfn, ns)))
    if a.write:
        w = fit(X, y, w0, a.ham_cost, a.l2, a.iters, bounds=bounds)
        fp, fn = count(X, y, w)
        print("fitted on the whole training half (in-sample): FP %d FN %d" % (fp, fn))
        for n in sorted(w):
            if abs(w[n] - w0[n]) > 0.005:
                print("score %-24s %.3f   # was %.3f" % (n, w[n], w0[n]))


if __name__ == "__main__":
    sys.exit(main())
