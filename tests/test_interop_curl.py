"""curl (libcurl with OpenSSL) as a POP3 and SMTP client of Tempest.

POP3: pop3:// with --ssl-reqd (STLS) lists, retrieves (byte for byte
what is in the Maildir, CRLF line ends), UIDL, TOP and DELE; pop3s://
(implicit TLS) retrieves; a wrong password is refused.
SMTP: smtp:// to the submission port with --ssl-reqd (STARTTLS) and
AUTH PLAIN or LOGIN, smtps:// with AUTH; the messages (one with a line
starting with a dot) land unchanged; a wrong password and AUTH without
TLS are refused."""
import os
import shutil
import smtplib
import subprocess

import pytest

from imap_helpers import start_instance
from interop_util import read_bytes

pytestmark = pytest.mark.skipif(shutil.which("curl") is None,
                                reason="curl (Debian package curl) is not installed")

USER = "demo@example.test"


def curl(inst, url, *args, password=None, data=None):
    argv = ["curl", "-sS", "--max-time", "60", "-k",
            "-u", f"{USER}:{password or inst.password}"] + list(args) + [url]
    return subprocess.run(argv, input=data, capture_output=True, timeout=90)


def deliver(inst, n):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        for i in range(n):
            s.sendmail("sender@remote.test", [USER],
                       (f"From: sender@remote.test\r\nTo: {USER}\r\n"
                        f"Subject: pop {i}\r\nMessage-ID: <pop{i}@remote.test>\r\n"
                        f"\r\nbody {i}\r\n.dot line\r\n").encode())
    msgs = inst.wait_messages(n, timeout=30)
    assert len(msgs) == n, inst.log()[-3000:]
    return msgs


def crlf(raw):
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_curl_pop3_stls_and_pop3s(make_instance):
    inst = start_instance(make_instance)
    deliver(inst, 2)
    pop3 = f"pop3://127.0.0.1:{inst.ports['pop3']}/"
    pop3s = f"pop3s://127.0.0.1:{inst.ports['pop3s']}/"
    p = curl(inst, pop3, "--ssl-reqd")
    assert p.returncode == 0, p.stderr
    listing = [ln.split() for ln in p.stdout.decode().splitlines()]
    assert [n for n, _ in listing] == ["1", "2"], listing
    # RETR: the message as stored, CRLF line ends, sizes as LISTed
    by_id = {}
    for n, size in listing:
        r = curl(inst, pop3 + n, "--ssl-reqd")
        assert r.returncode == 0, r.stderr
        assert len(r.stdout) == int(size), (n, size, len(r.stdout))
        by_id[n] = r.stdout
    stored = {crlf(read_bytes(m)) for m in inst.messages()}
    assert set(by_id.values()) == stored
    assert all(b"\r\n.dot line\r\n" in v for v in by_id.values())
    # pop3s: implicit TLS
    r = curl(inst, pop3s + "2")
    assert r.returncode == 0 and r.stdout == by_id["2"], r.stderr
    # UIDL and TOP
    r = curl(inst, pop3, "--ssl-reqd", "-X", "UIDL")
    uidl = [ln.split() for ln in r.stdout.decode().splitlines()]
    assert [u[0] for u in uidl] == ["1", "2"] and len({u[1] for u in uidl}) == 2
    r = curl(inst, pop3, "--ssl-reqd", "-X", "TOP 1 0")
    assert r.returncode == 0 and b"Subject: pop" in r.stdout
    assert b"body " not in r.stdout, r.stdout
    # DELE: gone from the listing and from the Maildir
    r = curl(inst, pop3 + "1", "--ssl-reqd", "-X", "DELE", "-I")
    assert r.returncode == 0, r.stderr
    r = curl(inst, pop3, "--ssl-reqd")
    assert len(r.stdout.decode().splitlines()) == 1, r.stdout
    assert len(inst.messages()) == 1
    # wrong password: refused (curl: 67, login denied)
    r = curl(inst, pop3, "--ssl-reqd", password="wrong-password")
    assert r.returncode == 67, (r.returncode, r.stderr)


def message(tag):
    return (f"From: {USER}\r\nTo: {USER}\r\nSubject: curl {tag}\r\n"
            f"Message-ID: <{tag}@curl.example.test>\r\n\r\n"
            f"body of {tag}\r\n.starts with a dot\r\n..two dots\r\n").encode()


def test_curl_smtp_submission_and_smtps(make_instance):
    inst = make_instance().start()
    sub = f"smtp://127.0.0.1:{inst.ports['submission']}/client.example.test"
    smtps = f"smtps://127.0.0.1:{inst.ports['smtps']}/client.example.test"
    env = ["--mail-from", USER, "--mail-rcpt", USER, "-T", "-"]
    sent = {}
    for tag, url, extra in (
            ("sub-plain", sub, ["--ssl-reqd", "--login-options", "AUTH=PLAIN"]),
            ("sub-login", sub, ["--ssl-reqd", "--login-options", "AUTH=LOGIN"]),
            ("smtps", smtps, [])):
        sent[tag] = message(tag)
        p = curl(inst, url, *(extra + env), data=sent[tag])
        assert p.returncode == 0, (tag, p.stderr)
    # refused: wrong password (535 -> curl 67), AUTH without TLS (the
    # submission port offers no AUTH before STARTTLS -> curl 67 too)
    p = curl(inst, sub, "--ssl-reqd", *env, password="wrong-password",
             data=message("bad"))
    assert p.returncode == 67, (p.returncode, p.stderr)
    p = curl(inst, sub, *env, data=message("clear"))
    assert p.returncode != 0, p.stderr
    msgs = inst.wait_messages(3, timeout=30)
    got = {}
    for m in msgs:
        raw = read_bytes(m)
        for tag in sent:
            if f"<{tag}@curl.example.test>".encode() in raw:
                got[tag] = raw
    assert sorted(got) == sorted(sent), inst.log()[-3000:]
    for tag, raw in got.items():
        body = crlf(raw).split(b"\r\n\r\n", 1)[1]
        assert body == sent[tag].split(b"\r\n\r\n", 1)[1], tag
        assert b"with ESMTPSA" in raw and b"from client.example.test" in raw
    assert len(inst.messages()) == 3
    log = inst.log()
    assert "sasl_method=PLAIN" in log and "sasl_method=LOGIN" in log
