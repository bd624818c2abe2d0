#!/usr/bin/python3
"""bench/spam/bayes_lab.py - offline experiments on the training half.

    bench/spam/bayes_lab.py collect [--tempest build/tempest] [--split S]
    bench/spam/bayes_lab.py [--split S] [--cv K] [--old-weights] eval EXPERIMENT...

`collect` runs `tempest spamc --batch --tests --tokens` once over every
message of the training half of split S (see run.py --split; the test
half is never read) and stores, per message, its folder, position, the
rule hits without the BAYES_* rules (score set 2, from a database
trained on the validation-train quarter) and its Bayes tokens (the exact
tokenizer of src/lib-spam/bayes.c) in bench/results/spam/lab-S.pickle.

`eval` re-implements the classifier (Robinson f(w), Fisher chi-square,
as bayes.c) in Python so that calibration variants, training regimes
and BAYES_* weights can be compared in seconds, on the validation split
(as run.py --validate) and by K-fold
cross-validation inside the training half.  It prints FP/FN per
experiment.  Nothing here reads the test half.
"""
import argparse
import math
import os
import pickle
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

BAYES_TIERS = [  # (name, lo, hi) as rules/23_bayes.cf
    ("BAYES_00", 0.00, 0.01), ("BAYES_05", 0.01, 0.05), ("BAYES_20", 0.05, 0.20),
    ("BAYES_40", 0.20, 0.40), ("BAYES_50", 0.40, 0.60), ("BAYES_60", 0.60, 0.80),
    ("BAYES_80", 0.80, 0.95), ("BAYES_95", 0.95, 0.99), ("BAYES_99", 0.99, 1.01),
    ("BAYES_999", 0.999, 1.01), ("BAYES_9999", 0.9999, 1.01),
]
# before the unsure gate (FP/FN of the tables in the issue-6 note)
W_OLD = {"BAYES_00": -2.5, "BAYES_05": -1.0, "BAYES_20": -0.001, "BAYES_40": -0.001,
         "BAYES_50": 0.8, "BAYES_60": 1.5, "BAYES_80": 3.5, "BAYES_95": 4.0,
         "BAYES_99": 4.0, "BAYES_999": 1.5, "BAYES_9999": 1.0}
# rules/23_bayes.cf now
W_NOW = dict(W_OLD, BAYES_50=1.4, BAYES_80=4.0, BAYES_999=2.0, BAYES_9999=0.5)
# bayes.c's constants now ("baseline" = the same without the gate)
C_NOW = {"s": 0.45, "x": 0.538, "min_dev": 0.1, "max_disc": 400,
         "gate_u": 0.9999, "gate_s": 0.15, "gate_md": 0.375}
SPAM_LEVEL = 6.3


def training_half(data, split):
    """[(group, file, kind, j)] : the training half of `split`, j = index
    inside the training half of its folder."""
    out = []
    for g, kind in sorted(run.GROUPS.items()):
        files = sorted(f for f in os.listdir(os.path.join(data, g)) if f.endswith(".txt"))
        j = 0
        for i, f in enumerate(files):
            if run.is_test(g, f, i, split):
                continue
            out.append((g, f, kind, j))
            j += 1
    return out


def collect(a):
    data = run.fetch()
    msgs = training_half(data, a.split)
    work = tempfile.mkdtemp(prefix="spam-lab-")
    try:
        alld = os.path.join(work, "all")
        tr = {"spam": os.path.join(work, "tr-spam"), "ham": os.path.join(work, "tr-ham")}
        for d in [alld] + list(tr.values()):
            os.makedirs(d)
        for g, f, kind, j in msgs:
            src = os.path.join(data, g, f)
            os.symlink(src, os.path.join(alld, g + "." + f))
            if j % 2 == 0:
                os.symlink(src, os.path.join(tr["spam" if kind == "spam" else "ham"],
                                             g + "." + f))
        db = os.path.join(work, "t.db")
        env = dict(os.environ, TEMPEST_CONFIG_DIR=os.path.join(work, "no-config"))
        for k in ("spam", "ham"):
            subprocess.run([a.tempest, "learn", "--" + k, "--db", db, tr[k]], check=True,
                           stdout=subprocess.DEVNULL, env=env)
        out = subprocess.run([a.tempest, "spamc", "--batch", "--tests", "--tokens",
                              "--db", db, alld], capture_output=True, env=env,
                             check=True).stdout.decode("utf-8", "surrogateescape")
    finally:
        subprocess.run(["rm", "-rf", work])
    res, toks = {}, {}
    for line in out.split("\n"):      # not splitlines(): tokens may hold \f, \x1c...
        if not line:
            continue
        if line.startswith("#T "):
            name, _, t = line[3:].partition("\t")
            toks[os.path.basename(name)] = frozenset(t.split("\t")) - {""}
            continue
        v, sc, rest = line.split(" ", 2)
        if " lr=" in rest:              # spamc since the logistic regression
            name, bayes, _lr, tests = rest.rsplit(" ", 3)
        else:
            name, bayes, tests = rest.rsplit(" ", 2)
        hits = {}
        for h in tests[len("tests="):].split(","):
            if h:
                n, s = h.rsplit("=", 1)
                if not n.startswith(("BAYES_", "LR_")):
                    hits[n] = float(s)
        res[os.path.basename(name)] = (float(bayes[len("bayes="):]), hits)
    rows = []
    for g, f, kind, j in msgs:
        key = g + "." + f
        rows.append({"group": g, "file": f, "kind": kind, "j": j,
                     "bayes_c": res[key][0], "hits": res[key][1], "tok": toks[key]})
    path = lab_path(a.split)
    with open(path, "wb") as fh:
        pickle.dump(rows, fh)
    print("%d messages -> %s" % (len(rows), path))


def lab_path(split):
    return os.path.join(run.OUT, "lab-%s.pickle" % split)


# ---- the classifier, as bayes.c ------------------------------------------

def chi2q(x2, v):
    m = x2 / 2.0
    if x2 <= 0:
        return 1.0
    s = t = math.exp(-m)
    for i in range(1, v // 2):
        t *= m / i
        s += t
    return min(s, 1.0)


class Model:
    def __init__(self):
        self.ns = self.nh = 0
        self.c = {}

    def learn(self, toks, spam, d=1):
        for t in toks:
            e = self.c.get(t)
            if e is None:
                e = self.c[t] = [0, 0]
            e[0 if spam else 1] += d
        if spam:
            self.ns += d
        else:
            self.nh += d


def classify(m, toks, P):
    """P: parameters (dict).  Returns (prob, S, H, n)."""
    s_, x_ = P.get("s", 0.45), P.get("x", 0.538)
    mind = P.get("min_dev", 0.1)
    maxd = P.get("max_disc", 400)
    hapax = P.get("hapax", 1)             # ignore tokens seen fewer times
    f = []
    nham = nspam = 0
    bg = P.get("bigram_gate")     # a bigram only when it says more than its words
    fws = {}
    if bg is not None:
        for t in toks:
            e = m.c.get(t)
            if e is None or sum(e) <= 0:
                continue
            cs, ch = e
            rs, rh = cs / m.ns, ch / m.nh
            fws[t] = (s_ * x_ + (cs + ch) * rs / (rs + rh)) / (s_ + cs + ch)
    for t in toks:
        e = m.c.get(t)
        if e is None:
            continue
        cs, ch = e
        cnt = cs + ch
        if cnt <= 0 or cnt < hapax:
            continue
        rs = cs / m.ns
        rh = ch / m.nh
        p = rs / (rs + rh)
        fw = (s_ * x_ + cnt * p) / (s_ + cnt)
        if bg is not None and t.startswith("B:"):
            ws = t[2:].split(" ")
            if len(ws) == 2 and all(w in fws for w in ws):
                dw = max(abs(fws[w] - 0.5) for w in ws)
                # same side as the stronger word and not clearly stronger:
                # the words already said it
                sw = max(ws, key=lambda w: abs(fws[w] - 0.5))
                if (fw - 0.5) * (fws[sw] - 0.5) > 0 and abs(fw - 0.5) <= dw + bg:
                    continue
        if abs(fw - 0.5) >= mind:
            f.append(fw)
        if fw <= 0.1:
            nham += 1
        elif fw >= 0.9:
            nspam += 1
    if not f:
        return 0.5, 0.0, 0.0, 0
    f.sort(key=lambda v: -abs(v - 0.5))
    f = f[:maxd]
    ss = sum(math.log(1 - v) for v in f)
    sh = sum(math.log(v) for v in f)
    k = 2 * len(f)
    S = 1 - chi2q(-2 * ss, k)
    H = 1 - chi2q(-2 * sh, k)
    p = (S - H + 1) / 2
    # "mixed evidence": many strong ham tokens next to the spam ones
    # (commercial newsletters of a sender never seen) -> capped
    mr = P.get("mix_ratio")
    if mr is not None and nham >= P.get("mix_n", 5) and nham >= mr * max(1, nspam):
        p = min(p, P.get("mix_cap", 0.999))
    # side-wise Fisher: H from the ham-side tokens only
    hs = P.get("side_h")
    if hs is not None:
        fh = [v for v in f if v < 0.5]
        if fh:
            Hs = 1 - chi2q(-2 * sum(math.log(v) for v in fh), 2 * len(fh))
            if Hs > hs:
                p = min(p, P.get("mix_cap", 0.999))
    # gate: a second, bogofilter-calibrated combination (tiny s, only
    # tokens with |f - 0.5| >= gate_md, all of them); when it is unsure
    # (both S and H above gate_u) the verdict becomes gate_p
    gu = P.get("gate_u")
    if gu is not None:
        G = {"s": P.get("gate_s", 0.0178), "x": P.get("gate_x", 0.52),
             "min_dev": P.get("gate_md", 0.375), "max_disc": 100000}
        gp, gS, gH, gn = classify(m, toks, G)
        if gS > gu and gH > gu:
            p = min(p, P.get("gate_p", 0.5))
    return p, S, H, len(f)


def bayes_points(p, W):
    pts = 0.0
    for n, lo, hi in BAYES_TIERS:
        if lo <= p < hi:
            pts += W.get(n, 0.0)
    return pts


def rules_points(row, R=None):
    if R is None:
        return sum(row["hits"].values())
    return sum(R.get(n, s) for n, s in row["hits"].items())


def evaluate(rows, probs, W, R=None, level=SPAM_LEVEL):
    fp = fn = nh = ns = 0
    fps = []
    for r, p in zip(rows, probs):
        sc = rules_points(r, R) + bayes_points(p, W)
        spam = sc >= level
        if r["kind"] == "spam":
            ns += 1
            fn += not spam
        else:
            nh += 1
            if spam:
                fp += 1
                fps.append((r["group"] + "." + r["file"], round(sc, 2), p))
    return fp, fn, nh, ns, fps


def train_model(rows, regime="all", P=None, passes=3):
    m = Model()
    if regime == "all":
        for r in rows:
            m.learn(r["tok"], r["kind"] == "spam")
        return m
    if regime.startswith("hardx"):
        w = int(regime[5:])
        for r in rows:
            m.learn(r["tok"], r["kind"] == "spam", w if r["kind"] == "hard" else 1)
        return m
    # train-on-error / train until no error: start from a seed of 200+200
    # (the store's minimum), then learn a message only when the model
    # gets it wrong or is unsure (|p - 0.5| < margin).
    margin = float(regime.split(":")[1]) if ":" in regime else 0.0
    spam = [r for r in rows if r["kind"] == "spam"]
    ham = [r for r in rows if r["kind"] != "spam"]
    learned = set()
    for r in spam[:200] + ham[:200]:
        m.learn(r["tok"], r["kind"] == "spam")
        learned.add(id(r))
    order = sorted(rows, key=lambda r: (r["j"], r["group"]))
    for _ in range(passes):
        changed = 0
        for r in order:
            if id(r) in learned:
                continue
            p = classify(m, r["tok"], P or {})[0]
            want = r["kind"] == "spam"
            if (p > 0.5) != want or abs(p - 0.5) < margin:
                m.learn(r["tok"], want)
                learned.add(id(r))
                changed += 1
        if not changed:
            break
    return m


def pct(a, b):
    return 100.0 * a / max(1, b)


EXPERIMENTS = {}


def experiment(name, **P):
    EXPERIMENTS[name] = P


experiment("baseline")
experiment("now", **C_NOW)
for md in (0.2, 0.3, 0.375, 0.45):
    experiment("min_dev=%g" % md, min_dev=md)
for s_ in (1.0, 2.0, 5.0):
    experiment("s=%g" % s_, s=s_)
    experiment("s=%g,x=0.5" % s_, s=s_, x=0.5)
experiment("bogo", s=0.0178, x=0.52, min_dev=0.375, max_disc=100000)
experiment("bogo_md0.1", s=0.0178, x=0.52, min_dev=0.1, max_disc=100000)
for hp in (2, 3):
    experiment("hapax<%d" % hp, hapax=hp)
for md in (150, 1000, 100000):
    experiment("max_disc=%d" % md, max_disc=md)


def parse_exp(spec):
    """name, k=v,k=v (s, x, min_dev, max_disc, hapax, regime, unsure,
    bigram_gate, typed=W with typed_min, typed_nham, typed_ctl: the
    HTML expert of doc/spam.md, ...) or name,k=v,..."""
    if spec in EXPERIMENTS:
        return dict(EXPERIMENTS[spec])
    P = {}
    parts = spec.split(",")
    if parts[0] in EXPERIMENTS:         # "now,k=v": a named one changed
        P = dict(EXPERIMENTS[parts.pop(0)])
    for kv in parts:
        k, v = kv.split("=", 1)
        P[k] = v if k == "regime" else float(v)
    if "max_disc" in P:
        P["max_disc"] = int(P["max_disc"])
    return P


def adjust(p, S, H, P):
    """Optional 'unsure' mapping: when both S and H are high (the chi-square
    'both sides' region) the verdict is pulled to 0.5."""
    u = P.get("unsure")
    if u is not None and S > u and H > u:
        return 0.5
    return p


def run_exp(rows, P, folds=None):
    """Validation split (j = position in the training half; even j train,
    odd j validate: run.py --validate) or K-fold CV over j % K."""
    regime = P.get("regime", "all")
    if folds is None:
        parts = [([r for r in rows if r["j"] % 2 == 0], [r for r in rows if r["j"] % 2 == 1])]
    else:
        parts = [([r for r in rows if r["j"] % folds != k], [r for r in rows if r["j"] % folds == k])
                 for k in range(folds)]
    allv, allp = [], []
    typed = P.get("typed")
    for tr, va in parts:
        m = train_model(tr, regime, P)
        tm = {}
        if typed is not None:
            for t in ("html", "text"):
                sub = [r for r in tr if msg_type(r) == t]
                if P.get("typed_ctl"):
                    # control: as many of each class, drawn at random
                    rnd = random.Random(int(P["typed_ctl"]))
                    sub = (rnd.sample([r for r in tr if r["kind"] == "spam"],
                                      sum(r["kind"] == "spam" for r in sub))
                           + rnd.sample([r for r in tr if r["kind"] != "spam"],
                                        sum(r["kind"] != "spam" for r in sub)))
                if P.get("typed_nham"):
                    # robustness: only the first N ham of the type
                    hs = [r for r in sub if r["kind"] != "spam"][:int(P["typed_nham"])]
                    sub = [r for r in sub if r["kind"] == "spam"] + hs
                tm[t] = train_model(sub, regime, P)
        for r in va:
            p, S, H, n = classify(m, r["tok"], P)
            tmin = P.get("typed_min", 0)
            if (typed is not None and msg_type(r) in P.get("typed_on", ("html",))
                    and tm[msg_type(r)].nh >= tmin and tm[msg_type(r)].ns >= tmin):
                q = classify(tm[msg_type(r)], r["tok"], P)[0]
                p = mix(p, q, typed)
            allv.append(r)
            allp.append(adjust(p, S, H, P))
    return allv, allp


def msg_type(r):
    """The expert a message goes to: HTML (any text/html part) or text."""
    return "html" if "HTML_MESSAGE" in r["hits"] else "text"


def mix(p, q, w):
    """The global model's p and the type expert's q, mixed in logit space
    with the expert's weight w (1 = the expert alone)."""
    def lg(v):
        v = min(max(v, 1e-12), 1 - 1e-12)
        return math.log(v / (1 - v))
    z = (1 - w) * lg(p) + w * lg(q)
    return 1 / (1 + math.exp(-z))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["collect", "eval"])
    ap.add_argument("exps", nargs="*")
    ap.add_argument("--tempest", default=os.path.join(run.ROOT, "build", "tempest"))
    ap.add_argument("--split", default="mod2", help="as run.py --split")
    ap.add_argument("--cv", type=int, default=0,
                    help="K-fold cross-validation over the training half instead "
                         "of the validation split")
    ap.add_argument("--show-fp", action="store_true")
    ap.add_argument("--old-weights", action="store_true",
                    help="BAYES_* weights from before the unsure gate")
    a = ap.parse_args()
    if a.cmd == "collect":
        return collect(a)
    with open(lab_path(a.split), "rb") as fh:
        rows = pickle.load(fh)
    print("| experiment | FP | FN | ham | spam | FP % | FN % |")
    print("|---|---|---|---|---|---|---|")
    for spec in a.exps or ["now"]:
        P = parse_exp(spec)
        va, probs = run_exp(rows, P, a.cv or None)
        fp, fn, nh, ns, fps = evaluate(va, probs, W_OLD if a.old_weights else W_NOW)
        print("| %s | %d | %d | %d | %d | %.2f | %.2f |" % (spec, fp, fn, nh, ns,
                                                           pct(fp, nh), pct(fn, ns)))
        if a.show_fp:
            for x in fps:
                print("    FP", x)


if __name__ == "__main__":
    sys.exit(main())
