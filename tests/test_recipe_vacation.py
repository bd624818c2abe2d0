"""`tempest vacation` (RFC 3834): who gets an automatic reply, how often,
and what the reply looks like.  The reply goes through $SENDMAIL, here a
fake that records its arguments and input (the real `tempest sendmail`
path is covered by the procmail end-to-end test)."""
import os
import stat
import subprocess
import time

import pytest

from conftest import TEMPEST

FAKE = """#!/bin/sh
d="$(dirname "$0")/../sent"
mkdir -p "$d"
n=$(ls "$d" | wc -l)
printf '%s\\n' "$@" > "$d/$n.args"
cat > "$d/$n.msg"
"""


def msg(sender="alice@example.org", to="Bob <bob@example.net>", extra="",
        subject="Lunch", msgid="<m1@example.org>", return_path=True):
    rp = "Return-Path: <%s>\n" % sender if return_path else ""
    return ("From %s  Tue Nov 14 22:13:20 2023\n%sFrom: Alice <%s>\nTo: %s\n"
            "Subject: %s\nMessage-ID: %s\n%s\nHello\n" % (
                sender or "MAILER-DAEMON", rp, sender or "nobody@x", to,
                subject, msgid, extra))


@pytest.fixture
def home(tmp_path):
    b = tmp_path / "bin"
    b.mkdir()
    f = b / "sendmail"
    f.write_text(FAKE)
    f.chmod(0o755)
    return tmp_path


def run(home, text, *args):
    env = {"HOME": str(home), "LOGNAME": "bob", "PATH": "/usr/bin:/bin",
           "SENDMAIL": str(home / "bin" / "sendmail")}
    p = subprocess.run([TEMPEST, "vacation", "-a", "bob@example.net"] + list(args),
                       input=text.encode(), env=env, capture_output=True, timeout=30)
    return p


def sent(home):
    d = home / "sent"
    if not d.exists():
        return []
    out = []
    for n in sorted(os.listdir(d)):
        if n.endswith(".msg"):
            base = n[:-4]
            out.append(((d / (base + ".args")).read_text().split("\n")[:-1],
                        (d / n).read_text()))
    return out


def headers(text):
    h = {}
    for line in text.split("\n\n", 1)[0].split("\n"):
        k, _, v = line.partition(":")
        h[k.lower()] = v.strip()
    return h


def test_reply_headers_and_null_sender(home):
    (home / ".vacation.msg").write_text("Subject: Away: $SUBJECT\n\nI am away until Monday.\n")
    p = run(home, msg(extra="References: <r0@example.org>\n"))
    assert p.returncode == 0, p.stderr
    s = sent(home)
    assert len(s) == 1
    args, text = s[0]
    assert args == ["-oi", "-f", "<>", "--", "alice@example.org"]
    h = headers(text)
    assert h["to"] == "alice@example.org"
    assert h["from"] == "bob@example.net"
    assert h["subject"] == "Away: Lunch"
    assert h["auto-submitted"] == "auto-replied"
    assert h["in-reply-to"] == "<m1@example.org>"
    assert h["references"] == "<r0@example.org> <m1@example.org>"
    assert "message-id" in h and "date" in h
    assert text.endswith("I am away until Monday.\n")


def test_once_per_interval(home):
    assert run(home, msg()).returncode == 0
    assert run(home, msg(msgid="<m2@example.org>")).returncode == 0
    assert len(sent(home)) == 1            # second message: no reply
    assert run(home, msg(sender="carol@example.com")).returncode == 0
    assert len(sent(home)) == 2            # another sender: a reply
    db = (home / ".vacation.db").read_text()
    assert "alice@example.org" in db and "carol@example.com" in db


def test_interval_expires(home):
    assert run(home, msg(), "-t", "1s").returncode == 0
    time.sleep(1.2)
    assert run(home, msg(), "-t", "1s").returncode == 0
    assert len(sent(home)) == 2


@pytest.mark.parametrize("kind,text", [
    ("list-id", msg(extra="List-Id: <l.example.org>\n")),
    ("precedence-bulk", msg(extra="Precedence: bulk\n")),
    ("precedence-list", msg(extra="Precedence: list\n")),
    ("precedence-junk", msg(extra="Precedence: junk\n")),
    ("auto-replied", msg(extra="Auto-Submitted: auto-replied\n")),
    ("auto-generated", msg(extra="Auto-Submitted: auto-generated\n")),
    ("null-sender", msg(sender="")),
    ("mailer-daemon", msg(sender="MAILER-DAEMON@example.org")),
    ("owner", msg(sender="owner-list@example.org")),
    ("request", msg(sender="list-request@example.org")),
    ("not-addressed", msg(to="someone@example.com")),
])
def test_no_reply(home, kind, text):
    p = run(home, text)
    assert p.returncode == 0, p.stderr
    assert sent(home) == [], kind
    assert b"no reply" in p.stderr


def test_auto_submitted_no_and_cc(home):
    assert run(home, msg(extra="Auto-Submitted: no\n")).returncode == 0
    assert len(sent(home)) == 1
    assert run(home, msg(sender="dave@example.com", to="x@example.com",
                         extra="Cc: Bob <bob@example.net>\n")).returncode == 0
    assert len(sent(home)) == 2


def test_from_procmail_recipe(home, tmp_path):
    rc = home / ".procmailrc"
    rc.write_text("SENDMAIL=$HOME/bin/sendmail\n:0 c\n| %s vacation -a bob@example.net\n"
                  ":0\nMail/\n" % TEMPEST)
    env = {"HOME": str(home), "LOGNAME": "bob", "PATH": "/usr/bin:/bin"}
    for i in range(2):
        p = subprocess.run([TEMPEST, "procmail", "ORGMAIL=%s" % (home / "spool"), str(rc)],
                           input=msg(msgid="<p%d@example.org>" % i).encode(), env=env,
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
    assert len(os.listdir(home / "Mail" / "new")) == 2
    s = sent(home)
    assert len(s) == 1
    assert s[0][0][:4] == ["-oi", "-f", "<>", "--"]
