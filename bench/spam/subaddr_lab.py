#!/usr/bin/python3
"""bench/spam/subaddr_lab.py - how often does a recipient's address
extension name the sender's domain, per folder of the corpus?

    bench/spam/subaddr_lab.py [--delims +-] [--show]

For each message: the tags of its recipient addresses (To:, Cc:,
Delivered-To:, X-Original-To:, Envelope-To: and the "for <...>" of its
Received: lines; the tag is what follows the first delimiter of the
local part) against the labels of its From: domain but the last; a
message counts when a tag of 3 or more characters equals one of them
(zzz-buy4now@... from buy4now.ie).  Counts every message of a folder,
both halves of every split: it is a look at the corpus, not a
judgement (doc/spam.md, "Why bogofilter calls these hams unsure").
"""
import argparse
import email.utils
import os
import re
import sys
from email import message_from_bytes
from email.policy import compat32

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import GROUPS, fetch  # noqa: E402

FOR = re.compile(r"\bfor\s+<?([^\s<>;]+@[^\s<>;]+)>?", re.I)
RCPT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


def recipients(msg):
    out = []
    for h in RCPT_HEADERS:
        for v in msg.get_all(h, []) or []:
            out += [a for _, a in email.utils.getaddresses([str(v)]) if "@" in a]
    for v in msg.get_all("Received", []) or []:
        out += [m.group(1) for m in FOR.finditer(str(v))]
    return out


def tag(addr, delims):
    local = addr.rsplit("@", 1)[0].lower()
    for i, c in enumerate(local):
        if c in delims:
            return local[i + 1:]
    return ""


def from_labels(msg):
    a = email.utils.parseaddr(str(msg.get("From", "")))[1]
    if "@" not in a:
        return "", set()
    dom = a.rsplit("@", 1)[1].lower().strip(".")
    return dom, set(dom.split(".")[:-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delims", default="+-")
    ap.add_argument("--show", action="store_true", help="list the matches")
    a = ap.parse_args()
    data = fetch()
    for group in GROUPS:
        files = sorted(f for f in os.listdir(os.path.join(data, group))
                       if f.endswith(".txt"))
        tagged, hits = 0, []
        for i, f in enumerate(files):
            with open(os.path.join(data, group, f), "rb") as fh:
                msg = message_from_bytes(fh.read(), policy=compat32)
            tags = {t for t in (tag(r, a.delims) for r in recipients(msg)) if t}
            dom, labels = from_labels(msg)
            tagged += bool(tags)
            if any(len(t) >= 3 and t in labels for t in tags):
                hits.append((i, f.split(".")[0], sorted(tags), dom))
        print("%-11s %5d messages, %4d with a tagged recipient, %3d whose tag "
              "names the From: domain" % (group, len(files), tagged, len(hits)))
        if a.show:
            for h in hits:
                print("    position %d  %s  tags %s  from %s" % h)


if __name__ == "__main__":
    main()
