"""Helpers of the success-notice tests (tests/test_dsn_success*.py): send
with DSN parameters through smtplib, find the notices in a Maildir and
read their RFC 3464 fields with Python's email package."""
import email
import os
import re
import smtplib

from conftest import wait_for


def add_users(inst, *names):
    """Virtual users NAME@example.test next to demo (same uid/gid, the
    password line copied from demo's)."""
    path = os.path.join(inst.etc, "users")
    with open(path) as f:
        lines = f.read().splitlines()
    demo = [line for line in lines if line.startswith("demo@example.test:")][0]
    f = demo.split(":")
    with open(path, "a") as out:
        for n in names:
            g = list(f)
            g[0] = f"{n}@example.test"
            g[5] = f"example.test/{n}/"
            out.write(":".join(g) + "\n")


def send_dsn(inst, rcpts, sender="demo@example.test", subject="dsn test",
             envid=None, ret=None, body="The body line.\r\n"):
    """One message over SMTP; rcpts: [(address, [rcpt options])].  Returns
    the queue id from the 250 reply."""
    msg = (f"From: {sender or 'MAILER-DAEMON'}\r\nTo: "
           f"{', '.join(r for r, _ in rcpts)}\r\nSubject: {subject}\r\n"
           f"\r\n{body}")
    mopts = []
    if envid is not None:
        mopts.append(f"ENVID={envid}")
    if ret is not None:
        mopts.append(f"RET={ret}")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.has_extn("dsn")
        code, resp = s.mail(sender, mopts)
        assert code == 250, resp
        for r, opts in rcpts:
            code, resp = s.rcpt(r, opts)
            assert code == 250, resp
        code, resp = s.data(msg.encode())
        assert code == 250, resp
    m = re.search(rb"queued as ([0-9A-F]+)", resp)
    assert m, resp
    return m.group(1).decode()


def read(path):
    with open(path, "rb") as f:
        return email.message_from_bytes(f.read())


def notices(inst, user="demo"):
    """Every multipart/report in user's Maildir: [(message, per-message
    fields, [per-recipient fields], third part)]."""
    out = []
    for p in inst.messages(user=user):
        m = read(p)
        if m.get_content_type() != "multipart/report":
            continue
        parts = m.get_payload()
        ds = [x for x in m.walk()
              if x.get_content_type() == "message/delivery-status"][0]
        blocks = ds.get_payload()
        out.append((m, blocks[0], blocks[1:], parts[2]))
    return out


def wait_notices(inst, n, user="demo", timeout=30):
    wait_for(lambda: len(notices(inst, user)) >= n, timeout)
    return notices(inst, user)


def plain(v):
    """A field value without folding whitespace."""
    return " ".join(str(v).split()) if v is not None else None


def by_final(rcpt_blocks):
    """Recipient blocks keyed by the address of Final-Recipient."""
    return {plain(b["Final-Recipient"]).split(";", 1)[1].strip(): b
            for b in rcpt_blocks}


def wait_removed(inst, qid, timeout=30):
    """Wait until qmgr is done with message qid (its last line)."""
    assert wait_for(lambda: f"{qid}: removed" in inst.log(), timeout), \
        inst.log()


def success_logged(inst, qid):
    return f"{qid}: sender delivery status notification" in inst.log()
