"""SMTP AUTH end to end: relay control from a client outside mynetworks,
AUTH only inside TLS, the PLAIN and LOGIN mechanisms (swaks, smtplib,
raw dialogue), failure delays and the per-client lockout of the auth
service, reject_sender_login_mismatch, the Received: header, logs
without credentials, and `tempest passwd`.
"""
import base64
import os
import smtplib
import shutil
import ssl
import subprocess
import threading
import time

import pytest

from conftest import wait_for
from smtputil import Raw

DEMO = "demo@example.test"


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user, pw):
    return b64("\0%s\0%s" % (user, pw))


def add_user(inst, user, password):
    p = inst.cmd("passwd", user, input=password + "\n")
    assert p.returncode == 0, p.stderr


# Outside mynetworks: 127.0.0.1 is not trusted here.
OUTSIDE = {"mynetworks": "192.0.2.0/24", "smtpd_sasl_auth_enable": "yes"}


def test_relay_control_outside_mynetworks(make_instance):
    inst = make_instance(extra=OUTSIDE).start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=15) as s:
        s.ehlo("outside.test")
        s.starttls(context=ctx())
        s.ehlo("outside.test")
        s.mail(DEMO)
        code, msg = s.rcpt("someone@remote.test")
        # default smtpd_relay_restrictions end in defer_unauth_destination
        assert code in (454, 554) and b"Relay access denied" in msg
        code, _ = s.rcpt(DEMO)                  # local mail still accepted
        assert code == 250
        s.rset()
        s.login(DEMO, inst.password)
        s.mail(DEMO)
        code, msg = s.rcpt("someone@remote.test")
        assert code == 250, msg
        s.rset()
    log = inst.log()
    assert "Relay access denied" in log
    assert inst.password not in log


def test_auth_refused_before_starttls(make_instance):
    inst = make_instance(extra=OUTSIDE).start()     # smtpd_tls_auth_only=yes
    r = Raw(inst.smtp_port)
    r.reply()
    lines = r.expect("EHLO x.test", 250)
    assert not any("AUTH" in l for l in lines)
    c, lines = r.cmd("AUTH PLAIN " + plain(DEMO, inst.password))
    assert c == 538, lines
    r.expect("MAIL FROM:<%s>" % DEMO, 250)
    c, lines = r.cmd("RCPT TO:<x@remote.test>")
    assert c in (454, 554) and "Relay access denied" in lines[0]
    r.expect("QUIT", 221)
    assert inst.password not in inst.log()


def test_auth_without_tls_when_allowed(make_instance):
    inst = make_instance(extra=dict(OUTSIDE, smtpd_tls_auth_only="no",
                                    smtpd_tls_security_level="none",
                                    smtpd_sasl_authenticated_header="yes")).start()
    r = Raw(inst.smtp_port)
    r.reply()
    lines = r.expect("EHLO x.test", 250)
    assert "250-AUTH PLAIN LOGIN" in lines
    r.expect("MAIL FROM:<%s>" % DEMO, 250)
    r.expect("AUTH PLAIN " + plain(DEMO, inst.password), 503)  # in a transaction
    r.expect("RSET", 250)
    r.expect("AUTH CRAM-MD5", 504)
    r.expect("AUTH PLAIN", 334, "334 ")
    r.expect("*", 501, "501 5.7.0 Authentication aborted")
    r.expect("AUTH PLAIN !!notbase64", 501)
    r.expect("AUTH PLAIN " + b64("other\0%s\0%s" % (DEMO, inst.password)), 535)
    r.expect("AUTH LOGIN", 334, "334 VXNlcm5hbWU6")
    r.expect(b64(DEMO), 334, "334 UGFzc3dvcmQ6")
    r.expect(b64(inst.password), 235, "235 2.7.0 Authentication successful")
    r.expect("AUTH PLAIN " + plain(DEMO, inst.password), 503)
    r.expect("MAIL FROM:<%s>" % DEMO, 250)
    r.expect("RCPT TO:<%s>" % DEMO, 250)
    r.expect("DATA", 354)
    r.send("Subject: login mech\r\n\r\nbody\r\n.\r\n")
    assert r.reply()[0] == 250
    r.expect("QUIT", 221)
    text = open(inst.wait_messages(1)[0]).read()
    assert "(Authenticated sender: demo@example.test)" in text
    assert "with ESMTPA id" in text
    log = inst.log()
    assert "sasl_method=LOGIN, sasl_username=demo@example.test" in log
    assert inst.password not in log and b64(inst.password) not in log


def test_swaks_auth_plain_and_login(make_instance):
    inst = make_instance(extra=OUTSIDE).start()
    for mech in ("PLAIN", "LOGIN"):
        r = subprocess.run(["swaks", "--timeout", "10", "-s", "127.0.0.1",
                            "-p", str(inst.smtp_port), "--tls", "--auth", mech,
                            "--auth-user", DEMO, "--auth-password=" + inst.password,
                            "-f", DEMO, "-t", "friend@remote.test"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "235 2.7.0 Authentication successful" in r.stdout
        assert "250 2.0.0 Ok: queued as" in r.stdout


def timed_login(port, user, pw, source=None):
    """AUTH PLAIN over STARTTLS; returns (code, seconds for the AUTH)."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=20,
                     source_address=(source, 0) if source else None)
    try:
        s.ehlo("t.test")
        s.starttls(context=ctx())
        s.ehlo("t.test")
        t = time.monotonic()
        code, _ = s.docmd("AUTH", "PLAIN " + plain(user, pw))
        return code, time.monotonic() - t
    finally:
        s.close()


def test_wrong_password_is_delayed(make_instance):
    inst = make_instance(extra=OUTSIDE).start()     # auth_failure_delay = 2s
    code, dt = timed_login(inst.smtp_port, DEMO, "wrong-password")
    assert code == 535
    assert 1.8 <= dt < 4.0, dt
    code, dt = timed_login(inst.smtp_port, "nosuchuser@example.test", "x")
    assert code == 535 and 1.8 <= dt < 4.0, dt
    code, dt = timed_login(inst.smtp_port, DEMO, inst.password)
    assert code == 235 and dt < 1.5, dt
    log = inst.log()
    assert "authentication failed for user=<demo@example.test>" in log
    assert "wrong-password" not in log


def test_lockout_after_ten_failures(make_instance):
    inst = make_instance(extra=dict(OUTSIDE, auth_failure_delay="1s")).start()
    results = []

    def fail():
        results.append(timed_login(inst.smtp_port, DEMO, "bad-guess")[0])

    threads = [threading.Thread(target=fail) for _ in range(10)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [535] * 10
    assert time.monotonic() - t0 < 8         # delays run in parallel
    # now even the right password is refused for this client ...
    code, dt = timed_login(inst.smtp_port, DEMO, inst.password)
    assert code == 454, code
    assert dt >= 0.9
    # ... but not for another client address
    code, _ = timed_login(inst.smtp_port, DEMO, inst.password,
                          source="127.0.0.2")
    assert code == 235
    log = inst.log()
    assert "127.0.0.1: refused smtp PLAIN authentication" in log
    assert "bad-guess" not in log and inst.password not in log


def test_reject_sender_login_mismatch(make_instance):
    inst = make_instance(extra={
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_tls_auth_only": "no",
        "smtpd_sender_restrictions": "reject_sender_login_mismatch",
        "smtpd_sender_login_maps": "texthash:$config_directory/senders",
    })
    add_user(inst, "other@example.test", "other-pw")
    with open(os.path.join(inst.etc, "senders"), "w") as f:
        f.write("demo@example.test demo@example.test\n"
                "other@example.test other@example.test\n"
                "shared@example.test demo@example.test, other@example.test\n")
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=15) as s:
        s.ehlo("x.test")
        s.login(DEMO, inst.password)
        for sender, want in (("other@example.test", 553), (DEMO, 250),
                             ("shared@example.test", 250),
                             ("unlisted@example.test", 553)):
            s.mail(sender)
            code, msg = s.rcpt(DEMO)
            assert code == want, (sender, code, msg)
            if code == 553:
                assert b"not owned by user demo@example.test" in msg
            s.rset()
    # unauthenticated (trusted mynetworks): a listed sender needs a login
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=15) as s:
        s.ehlo("x.test")
        s.mail("other@example.test")
        code, msg = s.rcpt(DEMO)
        assert code == 553 and b"not logged in" in msg
        s.rset()
        s.mail("stranger@remote.test")
        assert s.rcpt(DEMO)[0] == 250
        s.rset()
        s.mail("")                               # the null sender is nobody's
        assert s.rcpt(DEMO)[0] == 250


def test_tempest_passwd_changes_login(make_instance):
    inst = make_instance(extra={"smtpd_sasl_auth_enable": "yes",
                                "smtpd_tls_auth_only": "no",
                                "auth_failure_delay": "0"}).start()
    p = inst.cmd("passwd", DEMO, input="brand new pw\n")
    assert p.returncode == 0, p.stderr
    assert "brand new pw" not in p.stdout + p.stderr
    users = open(os.path.join(inst.etc, "users")).read()
    assert "{SHA512-CRYPT}$6$" in users and "brand new pw" not in users
    assert ":example.test/demo/::" in users          # other fields kept

    def login(pw):
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=15) as s:
            s.ehlo("x.test")
            try:
                s.login(DEMO, pw)
                return True
            except smtplib.SMTPAuthenticationError:
                return False
    assert login("brand new pw")
    assert not login(inst.password)
    p = inst.cmd("passwd", DEMO, input="")
    assert p.returncode != 0


def scram_secret(password, salt=b"tempest-salt-123", iters=4096):
    import hashlib
    import hmac
    sp = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    ck = hmac.new(sp, b"Client Key", "sha256").digest()
    sk = hmac.new(sp, b"Server Key", "sha256").digest()
    return "{SCRAM-SHA-256}%d,%s,%s,%s" % (
        iters, b64(salt), b64(hashlib.sha256(ck).digest()), b64(sk))


def scram_login(r, user, password, cnonce="fyko+d2lbbFgONRv9qkxdawL"):
    """A SCRAM-SHA-256 client (RFC 5802) over a Raw session; returns the
    final reply code (235 on success) and whether the server proved
    itself."""
    import hashlib
    import hmac
    first_bare = "n=%s,r=%s" % (user, cnonce)
    c, lines = r.cmd("AUTH SCRAM-SHA-256 " + b64("n,," + first_bare))
    if c != 334:
        return c, False
    server_first = base64.b64decode(lines[0][4:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(cnonce)
    salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
    sp = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    ck = hmac.new(sp, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(ck).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    am = ",".join((first_bare, server_first, without_proof)).encode()
    sig = hmac.new(stored, am, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    c, lines = r.cmd(b64(without_proof + ",p=" + b64(proof)))
    if c != 334:
        return c, False
    sk = hmac.new(sp, b"Server Key", "sha256").digest()
    want = "v=" + b64(hmac.new(sk, am, "sha256").digest())
    proved = base64.b64decode(lines[0][4:]).decode() == want
    c, _ = r.cmd("")
    return c, proved


def test_scram_sha256(make_instance):
    inst = make_instance(extra={
        "smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "no",
        "smtpd_tls_security_level": "none", "auth_failure_delay": "0",
        "smtpd_sasl_mechanisms": "PLAIN LOGIN SCRAM-SHA-256"})
    users = {"scram@example.test": ("scram pencil", scram_secret("scram pencil"))}
    if shutil.which("doveadm"):
        h = subprocess.run(["doveadm", "pw", "-s", "SCRAM-SHA-256", "-p",
                            "dove pencil"], capture_output=True, text=True,
                           check=True).stdout.strip()
        users["dove@example.test"] = ("dove pencil", h)
    with open(os.path.join(inst.etc, "users"), "a") as f:
        for u, (_, h) in users.items():
            f.write("%s:%s::::example.test/x/::\n" % (u, h))
    inst.start()
    r = Raw(inst.smtp_port)
    r.reply()
    lines = r.expect("EHLO x.test", 250)
    assert "250-AUTH PLAIN LOGIN SCRAM-SHA-256" in lines
    for u, (pw, _) in users.items():
        assert scram_login(r, u, pw + "x") == (535, False), u
        assert scram_login(r, "nobody@example.test", pw) == (535, False)
        assert scram_login(r, u, pw) == (235, True), u
        r.expect("MAIL FROM:<%s>" % u, 250)
        r.expect("RSET", 250)
        r.close()
        r = Raw(inst.smtp_port)
        r.reply()
        r.expect("EHLO x.test", 250)
    # PLAIN against a SCRAM secret works too
    u, (pw, _) = next(iter(users.items()))
    r.expect("AUTH PLAIN " + plain(u, pw), 235)
    r.expect("QUIT", 221)
    # a crypt(3) user cannot use SCRAM: no secret to check against
    r = Raw(inst.smtp_port)
    r.reply()
    r.expect("EHLO x.test", 250)
    assert scram_login(r, DEMO, inst.password) == (535, False)
    r.expect("AUTH SCRAM-SHA-256", 334, "334 ")
    r.expect("*", 501)
    # tempest passwd -s SCRAM-SHA-256 writes a secret SCRAM can use
    p = inst.cmd("passwd", "-s", "SCRAM-SHA-256", "new@example.test",
                 input="new pencil\n")
    assert p.returncode == 0, p.stderr
    assert scram_login(r, "new@example.test", "new pencil") == (235, True)
    r.expect("QUIT", 221)
    log = inst.log()
    assert "SCRAM-SHA-256 authentication succeeded for user=<scram@example.test>" in log
    assert "scram pencil" not in log
