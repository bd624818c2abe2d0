#!/usr/bin/python3
"""bench/spam/sender_lab.py - would sender reputation learned from training
lower the false positives?  (TxRep / AWL / rspamd-reputation style.)

    bench/spam/sender_lab.py [--splits mod2,swap,mod3] [--show-fp] [VARIANT...]

VARIANT is KEY:HAM[:SPAM[:MINHAM]], e.g. addr:-3 or addr+orig16:-3:2
(default: a fixed grid).  KEY is the sender key recorded per learned
message:

  addr        the From: address (lower-cased)
  addr+origN  From: address + List-Id when present, else + the /N network
              of the earliest public IP in the Received chain (origin relay)
  org         the From: organisational domain (last two labels, three for
              co.uk-style suffixes)
  org+origN   organisational domain + List-Id or /N origin network
  netN        the /N origin network alone

A message scored in a judgement gets HAM points when its key was learned
as ham at least MINHAM (default 1) times and never as spam, SPAM points
when learned only as spam; the points are added to its rule + BAYES_*
score (rules/*.cf weights now) and compared with 6.3.

The six judgements are those of the issue-6 sessions: for each split
(run.py --split), the validation split of its training half (even j
learn, odd j judged) and 4-fold cross-validation over the training half
(j % 4).  Only the training half is read: rows and Bayes tokens from
bayes_lab.py's `collect` pickle (bench/results/spam/lab-S.pickle), the
headers from the same messages' files; the Bayes probabilities are
recomputed per judgement with bayes_lab.py's re-implementation of
bayes.c (cached in bench/results/spam/sender-probs-S.pickle).
"""
import argparse
import ipaddress
import os
import pickle
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bayes_lab as L  # noqa: E402
import run  # noqa: E402

ADDR = re.compile(r"[A-Za-z0-9._%+=/!#$&'*?^`{|}~-]+@[A-Za-z0-9.-]+")
IP_LITERAL = re.compile(r"\[(\d+\.\d+\.\d+\.\d+)\]")


def headers(path):
    """[(lower-case name, unfolded value)] of one message's header."""
    with open(path, "rb") as fh:
        raw = fh.read().decode("latin-1")
    h = re.sub(r"\r?\n[ \t]+", " ", raw.split("\n\n", 1)[0])
    out = []
    for line in h.split("\n"):
        if ":" in line and not line.startswith("From "):
            n, v = line.split(":", 1)
            out.append((n.strip().lower(), v.strip()))
    return out


def from_addr(H):
    for n, v in H:
        if n == "from":
            m = ADDR.findall(v)
            return m[-1].lower() if m else None
    return None


def list_id(H):
    for n, v in H:
        if n == "list-id":
            m = re.search(r"<([^>]+)>", v)
            return (m.group(1) if m else v).lower().strip()
    return None


def is_public(ip):
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


def origin(H, bits):
    """/bits network of the earliest public IP literal in a Received
    header's from-clause, or None."""
    ips = []
    for n, v in H:
        if n == "received":
            ips += [i for i in IP_LITERAL.findall(v.split(" by ", 1)[0]) if is_public(i)][:1]
    if not ips:
        return None
    return str(ipaddress.ip_network("%s/%d" % (ips[-1], bits), strict=False))


def orgdom(addr):
    d = addr.split("@")[-1].strip(".").split(".")
    if len(d) >= 3 and len(d[-1]) == 2 and d[-2] in ("co", "com", "org", "net", "ac", "gov"):
        return ".".join(d[-3:])
    return ".".join(d[-2:])


def sender_key(H, kind):
    if kind.startswith("net"):
        return origin(H, int(kind[3:]))
    a = from_addr(H)
    if not a:
        return None
    base = a if kind.startswith("addr") else orgdom(a)
    if kind in ("addr", "org"):
        return base
    lid = list_id(H)
    if lid:
        return base + "|L" + lid
    o = origin(H, int(kind.split("+orig")[1]))
    return base + "|" + o if o else None


def judgements(split):
    with open(L.lab_path(split), "rb") as fh:
        rows = pickle.load(fh)
    data = run.fetch()
    for r in rows:
        r["H"] = headers(os.path.join(data, r["group"], r["file"]))
    cache = os.path.join(run.OUT, "sender-probs-%s.pickle" % split)
    stamp = os.path.getmtime(L.lab_path(split))
    probs = None
    if os.path.exists(cache):
        with open(cache, "rb") as fh:
            c = pickle.load(fh)
        if c.get("stamp") == stamp:
            probs = c["probs"]
    if probs is None:
        probs = {}
        for name, folds in (("val", None), ("oof", 4)):
            va, pr = L.run_exp(rows, L.C_NOW, folds)
            probs[name] = {r["group"] + "." + r["file"]: p for r, p in zip(va, pr)}
        with open(cache, "wb") as fh:
            pickle.dump({"stamp": stamp, "probs": probs}, fh)
    out = []
    for name, folds in (("val", None), ("oof", 4)):
        if folds is None:
            parts = [([r for r in rows if r["j"] % 2 == 0], [r for r in rows if r["j"] % 2 == 1])]
        else:
            parts = [([r for r in rows if r["j"] % folds != k],
                      [r for r in rows if r["j"] % folds == k]) for k in range(folds)]
        out.append((split + " " + name, parts, probs[name]))
    return out


def evaluate(judgement, variant, show_fp=False):
    name, parts, probs = judgement
    fp = fn = 0
    for tr, va in parts:
        rep = {}
        if variant:
            kind, ham_pts, spam_pts, min_ham = variant
            for r in tr:
                k = sender_key(r["H"], kind)
                if k:
                    rep.setdefault(k, [0, 0])[1 if r["kind"] == "spam" else 0] += 1
        for r in va:
            key = r["group"] + "." + r["file"]
            sc = L.rules_points(r) + L.bayes_points(probs[key], L.W_NOW)
            h = s = 0
            if variant:
                h, s = rep.get(sender_key(r["H"], kind), (0, 0))
                if h >= min_ham and s == 0:
                    sc += ham_pts
                elif s >= 1 and h == 0:
                    sc += spam_pts
            if r["kind"] == "spam":
                fn += sc < L.SPAM_LEVEL
            elif sc >= L.SPAM_LEVEL:
                fp += 1
                if show_fp:
                    print("    %s FP %s %.1f sender %s learned ham %d spam %d"
                          % (name, key, sc, from_addr(r["H"]), h, s))
    return fp, fn


def parse_variant(spec):
    f = spec.split(":")
    return (f[0], float(f[1]), float(f[2]) if len(f) > 2 else 0.0,
            int(f[3]) if len(f) > 3 else 1)


GRID = ["addr:-3", "addr:-5", "addr:-3:1", "addr:-3:2", "addr:-5:0:2",
        "addr+orig16:-3", "addr+orig16:-3:2", "addr+orig24:-3",
        "org:-3", "org:-3:2", "org+orig16:-3", "org+orig16:-3:2",
        "net24:-1", "net24:-3", "net16:-1", "net16:-3"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="*")
    ap.add_argument("--splits", default="mod2,swap,mod3")
    ap.add_argument("--show-fp", action="store_true")
    a = ap.parse_args()
    js = []
    for sp in a.splits.split(","):
        js += judgements(sp)
    print("| variant | " + " | ".join(j[0] for j in js) + " | total FP / FN |")
    print("|---" * (len(js) + 2) + "|")
    for spec in ["current engine"] + (a.variants or GRID):
        v = None if spec == "current engine" else parse_variant(spec)
        res = [evaluate(j, v, a.show_fp) for j in js]
        print("| %s | %s | %d / %d |" % (spec, " | ".join("%d/%d" % x for x in res),
                                         sum(x[0] for x in res), sum(x[1] for x in res)),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
