#!/usr/bin/python3
"""bench/spam/rule_fit.py - rule scores for score set 2 (Bayes and the LR
in use), fitted on the training-half judgements of judge.py.

    bench/spam/judge.py --tempest T --save J.pkl        # once
    bench/spam/rule_fit.py J.pkl --cross C:L2 ...       # choose C, L2
    bench/spam/rule_fit.py J.pkl --fit mod2,swap,mod3 --out FILE

The hand-set scores (rules/*.cf, one value: every score set) were set
for rules alone.  With the two learners in use, a rule that hits
newsletters as often as spam (BODY_CLICK_HERE: 44 % of judged spam,
43 % of judged hard ham) adds nothing the learners do not know and
carries hams over the line; one that hits spam and no ham is worth more.
SpamAssassin answers this with score sets: its set 2 (Bayes on) is
fitted on a corpus with Bayes probabilities in place.  This does the
same with Tempest's own learners: each judged message (judge.py --save:
its learner points, BAYES_* and LR_*, as the engine gave them, out of
fold, and the names of the rules that hit) gets the score
learner points + sum of the rule weights, and the weights minimise

    sum_spam log(1 + e^-(s - 6.3)) + C * sum_ham log(1 + e^(s - 6.3))
        + L2 * (N / 4534) * sum_rules (w - w_hand)^2

(C: what a false positive costs in false negatives; the L2 pull to the
hand score, scaled with the number of judged messages N so that a fit
on one split and on all three pull alike; 4534 = one split's
judgements of mod2).  Rules keep the sign of their hand score and do
not go below 0.001, so they still run and show (a zero score disables
a rule in that set, as in SpamAssassin); informational rules (|hand|
<= 0.01) and the learner rules are not fitted.

--cross fits on one split's judgements and counts FP/FN on another's
(mod2's and swap's training halves are disjoint, mod3's overlaps both),
hand against fitted, for each C:L2; --fit writes `score NAME h h f f`
lines (sets 0 and 1 keep the hand score) for rules/55_scores_bayes.cf
or, fitted on one split's judgements only, for a configuration
directory's spam.cf that run.py --config uses on that split's test
half (its training half is what the scores were fitted on).
"""
import argparse
import collections
import glob
import itertools
import math
import os
import pickle
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEVEL = 6.3
NREF = 4534
SPLITS = ("mod2", "swap", "mod3")
GENERATED = "55_scores_bayes.cf"


def hand_scores(rules_dir):
    """Set-0 score of every rule with a score line (later files win)."""
    w = {}
    for path in sorted(glob.glob(os.path.join(rules_dir, "*.cf"))):
        if os.path.basename(path) == GENERATED:
            continue
        with open(path) as fh:
            for line in fh:
                m = re.match(r"\s*score\s+(\S+)\s+(-?[\d.]+)", line)
                if m:
                    w[m.group(1)] = float(m.group(2))
    return w


def prior(name, hand):
    if name in hand:
        return hand[name]
    if name.startswith("__"):
        return 0.0
    return 0.01 if name.startswith("T_") else 1.0


def learner(name):
    return name.startswith(("BAYES_", "LR_"))


def fitted_rule(name, hand):
    return not learner(name) and abs(prior(name, hand)) > 0.01


def rows_of(saved, split, hand):
    """(is spam, learner and fixed points, fitted rules hit) per judged message."""
    out = []
    for j in ("val", "cv"):
        for r in saved.get((split, j), []):
            kind, hits = r[0], r[4]
            base = sum(v for n, v in hits.items() if learner(n))
            base += sum(prior(n, hand) for n in hits if not learner(n) and not fitted_rule(n, hand))
            rules = tuple(sorted(n for n in hits if fitted_rule(n, hand)))
            out.append((kind == "spam", base, rules))
    return out


def fit(rows, hand, C, l2, iters=300, rate=0.03):
    """Adam on the asymmetric logistic loss; {rule: weight}."""
    groups = collections.Counter((y, round(b, 4), f) for y, b, f in rows)
    names = sorted({n for _, _, f in rows for n in f})
    idx = {n: i for i, n in enumerate(names)}
    w0 = [prior(n, hand) for n in names]
    w = list(w0)
    gi = [(y, b, [idx[n] for n in f], c) for (y, b, f), c in groups.items()]
    lam = l2 * len(rows) / NREF
    m1 = [0.0] * len(w)
    m2 = [0.0] * len(w)
    for t in range(1, iters + 1):
        g = [2 * lam * (w[i] - w0[i]) for i in range(len(w))]
        for y, b, xi, c in gi:
            s = b + sum(w[i] for i in xi) - LEVEL
            if y:
                d = -c / (1.0 + math.exp(min(50.0, s)))
            else:
                d = c * C / (1.0 + math.exp(min(50.0, -s)))
            for i in xi:
                g[i] += d
        for i in range(len(w)):
            m1[i] = 0.9 * m1[i] + 0.1 * g[i]
            m2[i] = 0.999 * m2[i] + 0.001 * g[i] * g[i]
            w[i] -= rate * (m1[i] / (1 - 0.9 ** t)) / (math.sqrt(m2[i] / (1 - 0.999 ** t)) + 1e-8)
            if w0[i] > 0:
                w[i] = max(0.001, w[i])
            elif w0[i] < 0:
                w[i] = min(-0.001, w[i])
    return dict(zip(names, w))


def count(rows, w, hand):
    fp = fn = 0
    for y, b, f in rows:
        s = b + sum(w.get(n, prior(n, hand)) for n in f)
        fn += y and s < LEVEL
        fp += (not y) and s >= LEVEL
    return fp, fn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("save", help="judge.py --save file")
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    ap.add_argument("--cross", nargs="*", metavar="C:L2",
                    help="fit on one split's judgements, count on another's")
    ap.add_argument("--fit", help="splits whose judgements the written scores are fitted on")
    ap.add_argument("--C", type=float, default=25.0)
    ap.add_argument("--l2", type=float, default=5.0)
    ap.add_argument("--out", help="write the score lines here (default stdout)")
    ap.add_argument("--all", action="store_true",
                    help="write every fitted rule, also the unchanged (for spam.cf)")
    a = ap.parse_args()
    with open(a.save, "rb") as fh:
        saved = pickle.load(fh)
    hand = hand_scores(a.rules)
    rows = {s: rows_of(saved, s, hand) for s in SPLITS}
    if a.cross is not None:
        for spec in a.cross:
            C, l2 = (float(x) for x in spec.split(":"))
            cells, th, tf = [], [0, 0], [0, 0]
            for src, dst in itertools.permutations(SPLITS, 2):
                w = fit(rows[src], hand, C, l2)
                h, f = count(rows[dst], {}, hand), count(rows[dst], w, hand)
                cells.append("%s->%s %d/%d->%d/%d" % (src, dst, h[0], h[1], f[0], f[1]))
                th = [th[0] + h[0], th[1] + h[1]]
                tf = [tf[0] + f[0], tf[1] + f[1]]
            print("C=%g L2=%g  %s  total %d/%d -> %d/%d" %
                  (C, l2, "  ".join(cells), th[0], th[1], tf[0], tf[1]), flush=True)
    if a.fit:
        sp = a.fit.split(",")
        rs = [r for s in sp for r in rows[s]]
        w = fit(rs, hand, a.C, a.l2)
        h, f = count(rs, {}, hand), count(rs, w, hand)
        lines = ["# Score set 2 and 3 (Bayes and the LR in use) of the rules, fitted by",
                 "# bench/spam/rule_fit.py on the training-half judgements of %s" % ", ".join(sp),
                 "# (judge.py; C=%g, L2=%g; in-sample FP/FN %d/%d -> %d/%d).  Sets 0 and 1"
                 % (a.C, a.l2, h[0], h[1], f[0], f[1]),
                 "# keep the hand-set scores of 50_scores.cf.  Generated: do not edit;",
                 "# see doc/spam.md, \"Rule scores with the learners in use\".", ""]
        for n in sorted(w):
            if a.all or abs(w[n] - prior(n, hand)) >= 0.005:
                p = prior(n, hand)
                lines.append("score %-22s %g %g %.3f %.3f" % (n, p, p, w[n], w[n]))
        text = "\n".join(lines) + "\n"
        if a.out:
            with open(a.out, "w") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
        print("fitted on %s: %d judged messages, in-sample FP/FN %d/%d -> %d/%d"
              % (a.fit, len(rs), h[0], h[1], f[0], f[1]), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
