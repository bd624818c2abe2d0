#!/usr/bin/python3
"""bench/spam/lr_lab.py - a discriminative classifier next to Bayes, offline.

    bench/spam/lr_lab.py [--split S] [--cv K] EXPERIMENT...

Reads what `bayes_lab.py collect` stored for the training half of split
S (rule hits + Bayes tokens) plus the raw bytes of the same messages,
and evaluates online logistic regression over hashed binary features
(the TREC spam-track family: byte 4-grams of the first KB of the
message and/or Tempest's Bayes tokens), alone and next to the Bayes
classifier (its probability mapped to LR_* tiers that add to the
score), on the validation split or by K-fold cross-validation inside
the training half.  The test half is never read.

EXPERIMENT: k=v,k=v with
  feat=b4|tok|b4+tok   features (default b4+tok)
  nbytes=N             bytes of the message for b4 (default 3000)
  bits=B               2^B weights (default 20)
  lr=R                 learning rate (default 0.02)
  passes=P             passes over the training part (default 1)
  margin=M             train only when |p - y| > M ... (0 = always)
  norm=0|1             scale x by 1/sqrt(n features)
  w=a/b/c/...          LR tier weights (see TIERS)
  hw=H, hardw=K        ham updates weighted H (hard ham H*K)
  comb=tiers|replace|avg  how LR joins the score (LR_* tiers added; LR's
                       probability in the BAYES_* tiers; mean logit)

Numbers of the issue-6 note (no setting lowered false positives):
  lr_lab.py --cv 4 --grid feat=b4+tok,passes=3,w=-2/0/0/0/0/2
  lr_lab.py --split swap|mod3 [--cv 4] feat=b4+tok,passes=3,w=-2/0/0/0/0/2
"""
import argparse
import math
import os
import pickle
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    # features are hashed with hash(): fixed seed = reproducible numbers
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import bayes_lab as bl  # noqa: E402

LR_TIERS = [("LR_00", 0.0, 0.01), ("LR_05", 0.01, 0.05), ("LR_50", 0.05, 0.95),
            ("LR_95", 0.95, 0.99), ("LR_99", 0.99, 0.999), ("LR_999", 0.999, 1.01)]


def raw_bytes(data, g, f):
    with open(os.path.join(data, g, f), "rb") as fh:
        b = fh.read()
    if b.startswith(b"From "):
        nl = b.find(b"\n")
        b = b[nl + 1:] if nl >= 0 else b""
    return b


_feat_cache = {}


def features(r, data, P):
    key = (r["group"], r["file"], P["feat"], P["nbytes"], P["bits"], P.get("hdr", 1))
    v = _feat_cache.get(key)
    if v is not None:
        return v
    mask = (1 << P["bits"]) - 1
    s = set()
    if "b4" in P["feat"]:
        b = raw_bytes(data, r["group"], r["file"])
        if not P.get("hdr", 1):
            i = b.find(b"\n\n")
            b = b[i + 2:] if i >= 0 else b
        b = b[:P["nbytes"]]
        for i in range(len(b) - 3):
            s.add(hash(b[i:i + 4]) & mask)
    if "tok" in P["feat"]:
        for t in r["tok"]:
            s.add(hash("T" + t) & mask)
    v = _feat_cache[key] = sorted(s)
    return v


def sigmoid(z):
    if z < -30:
        return 1e-13
    if z > 30:
        return 1 - 1e-13
    return 1.0 / (1.0 + math.exp(-z))


def train_lr(rows, data, P):
    w = [0.0] * (1 << P["bits"])
    lr, margin = P["lr"], P.get("margin", 0.0)
    norm = P.get("norm", 0)
    order = sorted(rows, key=lambda r: (r["j"], r["group"]))  # interleaved, fixed
    om = P.get("order", "inter")
    if om == "hash":
        # a fixed pseudo-random order of all learned messages, both
        # classes mixed (what a retrain over stored samples does)
        import zlib
        order = sorted(rows, key=lambda r: zlib.crc32((r["group"] + "." + r["file"]).encode()))
    elif om != "inter":
        # as `tempest learn --spam DIR; tempest learn --ham DIR` (run.py):
        # one class block after the other, each in file-name order, with
        # dpasses passes over each block (after the first, shuffled)
        import random
        rnd = random.Random(1)
        sp = sorted((r for r in rows if r["kind"] == "spam"), key=lambda r: (r["group"], r["file"]))
        hm = sorted((r for r in rows if r["kind"] != "spam"), key=lambda r: (r["group"], r["file"]))
        order = []
        for blk in ((sp, hm) if om == "sh" else (hm, sp)):
            for k in range(int(P.get("dpasses", 1))):
                b = list(blk)
                if k > 0 or P.get("shuf1", 0):
                    rnd.shuffle(b)
                order += b
    for _ in range(int(P.get("passes", 1))):
        for r in order:
            x = features(r, data, P)
            sc = 1.0 / math.sqrt(len(x)) if norm and x else 1.0
            z = sum([w[i] for i in x]) * sc
            p = sigmoid(z)
            y = 1.0 if r["kind"] == "spam" else 0.0
            if margin and abs(y - p) < margin:
                continue
            d = lr * (y - p) * sc
            if y == 0.0:
                d *= P.get("hw", 1.0) * (P.get("hardw", 1.0) if r["kind"] == "hard" else 1.0)
            for i in x:
                w[i] += d
    return w


def predict(w, r, data, P):
    x = features(r, data, P)
    sc = 1.0 / math.sqrt(len(x)) if P.get("norm", 0) and x else 1.0
    return sigmoid(sum([w[i] for i in x]) * sc)


def parts_of(rows, folds):
    if folds is None:
        return [([r for r in rows if r["j"] % 2 == 0], [r for r in rows if r["j"] % 2 == 1])]
    return [([r for r in rows if r["j"] % folds != k], [r for r in rows if r["j"] % folds == k])
            for k in range(folds)]


_bayes_cache = {}    # Bayes probabilities per (split, folds): the same for every LR spec


def run_both(rows, data, P, folds, B=None, split="mod2"):
    """[(row, bayes p, lr p)] out of fold / on validation.  B: Bayes
    parameters (bayes_lab's, default the landed ones).  LR results are
    cached on disk per (split, folds, LR parameters)."""
    B = B or bl.C_NOW
    lrkey = ",".join("%s=%s" % (k, P[k]) for k in sorted(P) if k not in SCORING_KEYS)
    cache = os.path.join(run.OUT, "lr-cache-%s-%s-%s.pickle" % (
        split, folds or "val", abs(hash(lrkey)) % 10**12))
    lrp = None
    if os.path.exists(cache):
        with open(cache, "rb") as fh:
            k, lrp = pickle.load(fh)
        if k != lrkey:
            lrp = None
    out = []
    newp = {}
    bkey = (split, folds, id(rows))
    bp = _bayes_cache.setdefault(bkey, {})
    for tr, va in parts_of(rows, folds):
        m = None
        if not all((r["group"] + "." + r["file"]) in bp for r in va):
            m = bl.train_model(tr, "all", B)
            for r in va:
                bp[r["group"] + "." + r["file"]] = bl.classify(m, r["tok"], B)[0]
        w = None
        for r in va:
            key = r["group"] + "." + r["file"]
            if lrp is not None:
                pl = lrp[key]
            else:
                if w is None:
                    w = train_lr(tr, data, P)
                pl = predict(w, r, data, P)
            newp[key] = pl
            out.append((r, bp[key], pl))
    if lrp is None:
        with open(cache, "wb") as fh:
            pickle.dump((lrkey, newp), fh)
    return out


# parameters that only change how LR's probability joins the score
SCORING_KEYS = ("w", "comb", "G")


def tier_points(p, W, pb=None, G=None):
    """LR tier points; G gates them on the Bayes probability pb: positive
    points only when pb >= G['g999'], negative ones only when
    G['vlo'] <= pb < G['vhi']."""
    pts = 0.0
    for (n, lo, hi), x in zip(LR_TIERS, W):
        if lo <= p < hi:
            if G and x > 0 and pb < G.get("g999", 0.0):
                continue
            if G and x < 0 and not (G.get("vlo", 0.0) <= pb < G.get("vhi", 2.0)):
                continue
            pts += x
    return pts


def score_all(res, W, comb, bayes_w=None, G=None):
    fp = fn = nh = ns = 0
    fps = []
    for r, pb, pl in res:
        if comb == "replace":       # LR probability in place of Bayes', same tiers
            sc = bl.rules_points(r) + bl.bayes_points(pl, bayes_w or bl.W_NOW)
        elif comb == "avg":         # mean of the logits in the BAYES_* tiers
            lb = math.log(max(pb, 1e-12) / max(1 - pb, 1e-12))
            ll = math.log(max(pl, 1e-12) / max(1 - pl, 1e-12))
            q = sigmoid((lb + ll) / 2)
            sc = bl.rules_points(r) + bl.bayes_points(q, bayes_w or bl.W_NOW)
        else:
            sc = bl.rules_points(r) + bl.bayes_points(pb, bayes_w or bl.W_NOW) + tier_points(pl, W, pb, G)
        spam = sc >= bl.SPAM_LEVEL
        if r["kind"] == "spam":
            ns += 1
            fn += not spam
        else:
            nh += 1
            if spam:
                fp += 1
                fps.append((r["group"] + "." + r["file"], round(sc, 2), round(pb, 5), round(pl, 5)))
    return fp, fn, nh, ns, fps


def fn_at_fp(pairs, k):
    """pairs [(is_spam, p)]: FN when the threshold lets at most k ham through."""
    hp = sorted((p for sp, p in pairs if not sp), reverse=True)
    t = hp[k] if k < len(hp) else -1.0          # threshold just above the k+1-th ham
    return sum(1 for sp, p in pairs if sp and p <= t)


def ranking(res):
    out = []
    for name, f in (("bayes", lambda x: x[1]), ("lr", lambda x: x[2]),
                    ("sumlogit", lambda x: logit(x[1]) + logit(x[2])),
                    ("rules+bayes", lambda x: bl.rules_points(x[0]) + bl.bayes_points(x[1], bl.W_NOW)),
                    ("rules+logits", lambda x: bl.rules_points(x[0]) + 0.3 * (logit(x[1]) + logit(x[2])))):
        pairs = [(x[0]["kind"] == "spam", f(x)) for x in res]
        out.append("%s %s" % (name, "/".join(str(fn_at_fp(pairs, k)) for k in (0, 1, 2, 3))))
    return "FN at FP 0/1/2/3: " + "; ".join(out)


def logit(p):
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def lr_alone(res):
    """FP/FN of the LR probability alone at 0.5 and of Bayes alone at 0.5."""
    o = {}
    for name, k in (("bayes", 1), ("lr", 2)):
        fp = sum(1 for x in res if x[0]["kind"] != "spam" and x[k] >= 0.5)
        fn = sum(1 for x in res if x[0]["kind"] == "spam" and x[k] < 0.5)
        o[name] = (fp, fn)
    return o


def parse(spec):
    P = {"feat": "b4+tok", "nbytes": 3000, "bits": 20, "lr": 0.02, "passes": 1,
         "margin": 0.0, "norm": 0, "comb": "tiers", "w": "-1/0/0/0/0/0"}
    if spec:
        for kv in spec.split(","):
            k, v = kv.split("=", 1)
            P[k] = v if k in ("feat", "comb", "w", "order") else float(v)
    for k in ("g999", "vlo", "vhi"):
        if k in P:
            P.setdefault("G", {})[k] = P.pop(k)
    P["bits"] = int(P["bits"])
    P["nbytes"] = int(P["nbytes"])
    return P


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exps", nargs="*")
    ap.add_argument("--split", default="mod2")
    ap.add_argument("--cv", type=int, default=0)
    ap.add_argument("--grid", action="store_true",
                    help="also search LR tier weights (min FN at FP <= best)")
    ap.add_argument("--show-fp", action="store_true")
    ap.add_argument("--bayes", default="now", help="bayes_lab experiment (k=v,...)")
    ap.add_argument("--bw", default="", help="BAYES_* weight overrides NAME=v,...")
    ap.add_argument("--six", action="store_true",
                    help="the six training-half judgements (validation and "
                    "4-fold CV of mod2, swap, mod3), FP/FN each and in total")
    ap.add_argument("--save", help="pickle the (row key, bayes p, lr p) results here")
    a = ap.parse_args()
    data = run.fetch()
    if a.six:
        return six(a, data)
    with open(bl.lab_path(a.split), "rb") as fh:
        rows = pickle.load(fh)
    for spec in a.exps or [""]:
        P = parse(spec)
        B = bl.parse_exp(a.bayes)
        res = run_both(rows, data, P, a.cv or None, B, a.split)
        BW = dict(bl.W_NOW)
        for kv in filter(None, a.bw.split(",")):
            k, v = kv.split("=")
            BW[k] = float(v)
        if a.save:
            with open(a.save, "wb") as fh:
                pickle.dump([(r["group"] + "." + r["file"], r["kind"], pb, pl)
                             for r, pb, pl in res], fh)
        al = lr_alone(res)
        W = [float(x) for x in P["w"].split("/")]
        fp, fn, nh, ns, fps = score_all(res, W, P["comb"], BW)
        print("%s: alone@0.5 bayes FP/FN %s lr %s | score FP %d FN %d (%d ham %d spam)"
              % (spec, al["bayes"], al["lr"], fp, fn, nh, ns))
        print("    " + ranking(res))
        if a.show_fp:
            for x in fps:
                print("    FP", x)
        if a.grid:
            grid(res, BW)


JUDGEMENTS = [(sp, f) for sp in ("mod2", "swap", "mod3") for f in (None, 4)]


def six(a, data):
    """Per spec: FP/FN of the six judgements and the total; the first
    column is the engine without LR points (W all 0)."""
    rows = {}
    for sp in ("mod2", "swap", "mod3"):
        with open(bl.lab_path(sp), "rb") as fh:
            rows[sp] = pickle.load(fh)
    hdr = " | ".join("%s %s" % (sp, "CV" if f else "val") for sp, f in JUDGEMENTS)
    print("| variant | %s | total |" % hdr)
    print("|---|" + "---|" * (len(JUDGEMENTS) + 1))
    base = None
    for spec in a.exps:
        P = parse(spec)
        W = [float(x) for x in P["w"].split("/")]
        cells, tf, tn = [], 0, 0
        bcells, bf, bn = [], 0, 0
        for sp, f in JUDGEMENTS:
            res = run_both(rows[sp], data, P, f, bl.C_NOW, sp)
            fp, fn, *_ = score_all(res, W, P["comb"], bl.W_NOW, P.get("G"))
            cells.append("%d/%d" % (fp, fn))
            tf += fp
            tn += fn
            if base is None:
                fp0, fn0, *_ = score_all(res, [0] * 6, "tiers", bl.W_NOW)
                bcells.append("%d/%d" % (fp0, fn0))
                bf += fp0
                bn += fn0
        if base is None:
            base = (bf, bn)
            print("| landed engine | %s | %d/%d |" % (" | ".join(bcells), bf, bn), flush=True)
        print("| %s | %s | %d/%d |" % (spec, " | ".join(cells), tf, tn), flush=True)


def grid(res, BW):
    best = {}
    import itertools
    for w00, w05, w95, w99, w999 in itertools.product(
            (0, -1, -2, -3), (0, -0.5, -1), (0, 0.5, 1, 1.5), (0, 1, 1.5, 2, 2.5),
            (0, 0.5, 1, 1.5, 2)):
        W = [w00, w05, 0, w95, w99, w999]
        fp, fn, *_ = score_all(res, W, "tiers", BW)
        if fp not in best or fn < best[fp][0]:
            best[fp] = (fn, W)
    for fp in sorted(best)[:5]:
        print("    grid FP %d -> FN %d with %s" % (fp, best[fp][0], best[fp][1]))


if __name__ == "__main__":
    sys.exit(main())
