"""End-to-end tests of the core MTA: the SMTP server, the queue and local
delivery, driven by real clients against a real Tempest on loopback."""
import email
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import TEMPEST, wait_for
from smtputil import Raw

DEMO = "demo@example.test"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_classic_dialogue(instance):
    r = Raw(instance.smtp_port)
    code, lines = r.reply()
    assert (code, lines) == (220, ["220 mail.example.test ESMTP Tempest"])
    r.expect("helo x", 250, "250 mail.example.test")
    r.expect("mail from:<a@b>", 250, "250 2.1.0 Ok")
    r.expect("rcpt to:<demo@example.test>", 250, "250 2.1.5 Ok")
    r.expect("data", 354, "354 End data with <CR><LF>.<CR><LF>")
    r.send("Subject: classic\r\n\r\nHello there.\r\n.\r\n")
    code, lines = r.reply()
    assert code == 250
    m = re.fullmatch(r"250 2\.0\.0 Ok: queued as ([0-9A-F]{12})", lines[0])
    assert m, lines
    qid = m.group(1)
    r.expect("quit", 221, "221 2.0.0 Bye")
    assert r.closed()
    msgs = instance.wait_messages(1)
    assert len(msgs) == 1
    body = read(msgs[0]).decode()
    assert body.startswith("Return-Path: <a@b>\nDelivered-To: demo@example.test\n"
                           "Received: from x (unknown [127.0.0.1])\n")
    assert f"id {qid}" in body
    msg = email.message_from_string(body)
    assert msg["Subject"] == "classic"
    assert msg["Message-Id"] == f"<{qid}@mail.example.test>"
    assert msg["Date"]
    assert msg.get_payload() == "Hello there.\n"
    # the Maildir name carries the queue id (crash-safe dedupe)
    assert qid in os.path.basename(msgs[0])
    # qmgr logs the result just after the copy is in the Maildir
    assert wait_for(lambda: f"{qid}: removed" in instance.log(), 10)
    log = instance.log()
    assert f"{qid}: to=<demo@example.test>, relay=virtual" in log
    assert "status=sent (delivered to maildir)" in log
    assert f"{qid}: removed" in log


def test_smtplib_esmtp(instance):
    with smtplib.SMTP("127.0.0.1", instance.smtp_port) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "chunking",
                    "dsn", "enhancedstatuscodes"):
            assert s.has_extn(ext), ext
        assert s.esmtp_features["size"] == "10240000"
        refused = s.sendmail("sender@remote.test",
                             [DEMO, "postmaster@example.test"],
                             b"Subject: smtplib\r\n\r\nvia smtplib\r\n")
        assert refused == {}
    msgs = instance.wait_messages(1)
    # postmaster is an alias of demo: one copy (duplicate filter)
    assert len(msgs) == 1
    assert b"via smtplib" in read(msgs[0])


def test_swaks(instance):
    out = subprocess.run(["swaks", "--server", f"127.0.0.1:{instance.smtp_port}",
                          "--to", DEMO, "--from", "swaks@remote.test",
                          "--header", "Subject: swaks test", "--body", "swaks body"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<-  250 2.0.0 Ok: queued as" in out.stdout
    msgs = instance.wait_messages(1)
    assert b"swaks body" in read(msgs[0])


def test_curl(instance, tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("From: c@remote.test\r\nSubject: curl\r\n\r\ncurl body\r\n")
    out = subprocess.run(["curl", "-sS", f"smtp://127.0.0.1:{instance.smtp_port}",
                          "--mail-from", "c@remote.test", "--mail-rcpt", DEMO,
                          "--upload-file", str(f)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    msgs = instance.wait_messages(1)
    assert b"curl body" in read(msgs[0])


def test_pipelining(instance):
    r = Raw(instance.smtp_port)
    r.reply()
    r.send("EHLO p\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<demo@example.test>\r\n"
           "RCPT TO:<nobody@example.test>\r\nDATA\r\n")
    assert r.reply()[0] == 250
    assert r.reply() == (250, ["250 2.1.0 Ok"])
    assert r.reply() == (250, ["250 2.1.5 Ok"])
    code, lines = r.reply()
    assert code == 550 and lines[0].startswith("550 5.1.1 <nobody@example.test>")
    assert r.reply()[0] == 354
    r.send("Subject: pipe\r\n\r\nx\r\n.\r\nMAIL FROM:<q@remote.test>\r\n"
           "RCPT TO:<demo@example.test>\r\nDATA\r\nSubject: pipe2\r\n\r\ny\r\n.\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    assert r.reply()[0] == 354
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    msgs = instance.wait_messages(2)
    assert len(msgs) == 2


def test_bdat_chunking(instance):
    r = Raw(instance.smtp_port)
    r.reply()
    r.cmd("EHLO b")
    r.expect("MAIL FROM:<b@remote.test>", 250)
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    part1 = b"Subject: bdat\r\n\r\nline one\r\nline "
    part2 = b"two\r\n.not a terminator\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert r.reply() == (250, [f"250 2.0.0 Ok: {len(part1)} bytes"])
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    code, lines = r.reply()
    assert code == 250 and "queued as" in lines[0], lines
    r.expect("QUIT", 221)
    msgs = instance.wait_messages(1)
    body = read(msgs[0])
    assert body.endswith(b"\n\nline one\nline two\n.not a terminator\n")
    # BDAT without a transaction: the chunk is read and refused
    r = Raw(instance.smtp_port)
    r.reply()
    r.cmd("EHLO b")
    r.send(b"BDAT 5 LAST\r\nhello")
    assert r.reply()[0] == 503
    r.expect("NOOP", 250)


def test_utf8_addresses(instance):
    r = Raw(instance.smtp_port)
    r.reply()
    r.cmd("EHLO u")
    code, lines = r.cmd("MAIL FROM:<jörg@bücher.test>")
    assert code == 553 and "5.6.7" in lines[0]
    r.expect("MAIL FROM:<jörg@bücher.test> SMTPUTF8", 250)
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    r.expect("DATA", 354)
    r.send("Subject: ünïcode\r\n\r\n8-bit body: ä\r\n.\r\n".encode())
    assert r.reply()[0] == 250
    msgs = instance.wait_messages(1)
    body = read(msgs[0])
    assert "Return-Path: <jörg@bücher.test>".encode() in body
    assert "8-bit body: ä".encode() in body
    assert b"with UTF8SMTP" in body


def test_large_message_and_size_limits(make_instance):
    inst = make_instance(extra={"message_size_limit": str(25 * 1024 * 1024)}).start()
    line = b"x" * 998 + b"\r\n"
    n = (20 * 1024 * 1024) // len(line)
    data = b"Subject: big\r\n\r\n" + line * n
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("big@remote.test", [DEMO], data)
        code, msg = s.mail("big@remote.test", ["SIZE=%d" % (30 * 1024 * 1024)])
        assert code == 552 and b"5.3.4" in msg
    msgs = inst.wait_messages(1, timeout=60)
    assert len(msgs) == 1
    body = read(msgs[0])
    assert body.count(b"x" * 998 + b"\n") == n
    # over the limit inside DATA: 552 after the data, session goes on
    r = Raw(inst.smtp_port)
    r.reply()
    r.cmd("EHLO big")
    r.expect("MAIL FROM:<big@remote.test>", 250)
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    r.expect("DATA", 354)
    chunk = line * 1024
    for _ in range(27):
        r.send(chunk)
    r.send(b".\r\n")
    code, lines = r.reply(timeout=60)
    assert code == 552 and "5.3.4" in lines[0]
    r.expect("NOOP", 250)


def test_bad_input(make_instance):
    inst = make_instance(extra={"smtpd_recipient_limit": "3",
                                "smtpd_error_sleep_time": "0"}).start()
    r = Raw(inst.smtp_port)
    r.reply()
    r.send(b"EHLO " + b"a" * 5000 + b"\r\n")
    code, lines = r.reply()
    assert code == 500 and "too long" in lines[0]
    r.send(b"NO\x00OP\r\n")
    assert r.reply()[0] == 500
    r.expect("FROB", 502, "502 5.5.2 Error: command not recognized")
    r.expect("RCPT TO:<demo@example.test>", 503, "503 5.5.1 Error: need MAIL command")
    r.expect("DATA", 503)
    r.expect("EHLO ok", 250)
    r.expect("MAIL FROM:<a@remote.test>", 250)
    r.expect("MAIL FROM:<a@remote.test>", 503, "503 5.5.1 Error: nested MAIL command")
    r.expect("DATA", 503, "503 5.5.1 Error: need RCPT command")
    r.expect("MAIL FROM:<broken", 503)  # nested MAIL is checked first
    r.expect("RSET", 250)
    code, lines = r.cmd("MAIL FROM:<broken")
    assert code == 501 and "5.1.7" in lines[0]
    r.expect("MAIL FROM:<a@remote.test> FOO=BAR", 555)
    r.expect("MAIL FROM:<a@remote.test>", 250)
    for i in range(3):
        r.expect(f"RCPT TO:<{DEMO}>", 250)
    r.expect(f"RCPT TO:<{DEMO}>", 452, "452 4.5.3 Error: too many recipients")
    r.expect("QUIT", 221)
    # too many errors end the session
    r = Raw(inst.smtp_port)
    r.reply()
    closed = False
    for i in range(30):
        r.send("BOGUS\r\n")
        try:
            code, lines = r.reply()
        except EOFError:
            closed = True
            break
        if code == 421:
            assert "too many errors" in lines[0]
            closed = r.closed()
            break
    assert closed
    # an HTTP client is dropped
    r = Raw(inst.smtp_port)
    r.reply()
    code, lines = r.cmd("GET / HTTP/1.0")
    assert code == 221 and r.closed()
    # and the daemon still serves
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [DEMO], b"Subject: after\r\n\r\nok\r\n")
    assert inst.wait_messages(1)


def data_session(port, payload):
    r = Raw(port)
    r.reply()
    r.cmd("EHLO s")
    r.expect("MAIL FROM:<s@remote.test>", 250)
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    r.expect("DATA", 354)
    r.send(payload)
    return r


def test_smuggling_and_bare_newlines(instance):
    # Only CRLF.CRLF ends DATA: bare-LF / bare-CR variants are content.
    payload = (b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<evil@remote.test>\n"
               b"x\r.\rRCPT TO:<evil@remote.test>\r\n.\n\r\n"
               b"bare\nlf line\r\n.\r\n")
    r = data_session(instance.smtp_port, payload)
    code, lines = r.reply()
    assert code == 250 and "queued as" in lines[0]
    r.expect("QUIT", 221)
    msgs = instance.wait_messages(1)
    assert len(msgs) == 1
    body = read(msgs[0])
    assert b"MAIL FROM:<evil@remote.test>" in body
    assert b"RCPT TO:<evil@remote.test>" in body
    assert body.endswith(b"bare\nlf line\n")
    assert "evil" not in instance.log().split("smuggle")[0]


def test_bare_lf_reject(make_instance):
    inst = make_instance(extra={"smtpd_forbid_bare_newline": "reject",
                                "smtpd_forbid_bare_newline_exclusions": ""}).start()
    r = data_session(inst.smtp_port, b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
    code, lines = r.reply()
    assert code == 521 and "bare <LF>" in lines[0]
    assert r.closed()
    assert inst.messages() == []


@pytest.fixture
def outside(make_instance):
    """An instance for which 127.0.0.1 is not a trusted network."""
    return make_instance(extra={"mynetworks": "10.99.0.0/16"}).start()


@pytest.mark.parametrize("rcpt,code", [
    ("<someone@remote.test>", 454),
    ("<user%other.test@example.test>", 454),
    ("<@route.test:user@remote.test>", 454),
    ('<"user@remote.test"@example.test>', 454),
    ("<user@remote.test@example.test>", 501),
    ("<user!remote.test@example.test>", 454),
])
def test_no_relay_from_outside(outside, rcpt, code):
    r = Raw(outside.smtp_port)
    r.reply()
    r.cmd("EHLO outside")
    r.expect("MAIL FROM:<spammer@remote.test>", 250)
    c, lines = r.cmd(f"RCPT TO:{rcpt}")
    assert c == code, lines
    # local mail is still accepted from outside
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    r.expect("QUIT", 221)
    assert all(outside.queue_messages(d) == []
               for d in ("incoming", "active", "deferred"))


def test_classic_relay_restrictions(make_instance):
    inst = make_instance(extra={
        "mynetworks": "10.99.0.0/16", "smtpd_relay_restrictions": "",
        "smtpd_recipient_restrictions":
            "permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination"}
    ).start()
    r = Raw(inst.smtp_port)
    r.reply()
    r.cmd("HELO outside")
    r.expect("MAIL FROM:<s@remote.test>", 250)
    c, lines = r.cmd("RCPT TO:<victim@remote.test>")
    assert c == 554 and lines[0] == "554 5.7.1 <victim@remote.test>: Relay access denied"
    r.expect(f"RCPT TO:<{DEMO}>", 250)


def test_open_relay_config_refused(make_instance):
    inst = make_instance(extra={"smtpd_relay_restrictions": "permit",
                                "smtpd_recipient_restrictions": ""})
    inst.start(wait=False)
    assert wait_for(lambda: "refusing to run as an open relay" in inst.log(), 10)


def test_helo_required_and_vrfy(make_instance):
    inst = make_instance(extra={"smtpd_helo_required": "yes"}).start()
    r = Raw(inst.smtp_port)
    r.reply()
    r.expect("MAIL FROM:<a@remote.test>", 503, "503 5.5.1 Error: send HELO/EHLO first")
    r.expect(f"VRFY {DEMO}", 252, f"252 2.0.0 {DEMO}")
    c, lines = r.cmd("VRFY nobody@example.test")
    assert c == 550
    r.expect("HELP", 214)
    inst2 = make_instance("i2", extra={"disable_vrfy_command": "yes"}).start()
    r = Raw(inst2.smtp_port)
    r.reply()
    r.expect(f"VRFY {DEMO}", 502, "502 5.5.1 VRFY command is disabled")


def test_loop_detection_bounces(instance):
    msg = (f"Delivered-To: {DEMO}\r\nSubject: looping\r\n\r\nloop\r\n").encode()
    with smtplib.SMTP("127.0.0.1", instance.smtp_port) as s:
        s.sendmail("", [DEMO], msg)
    # null sender: no bounce to anyone but a postmaster notice; the
    # looping copy itself must not be delivered
    assert wait_for(lambda: "mail forwarding loop" in instance.log(), 10)
    for p in instance.messages():
        assert b"Subject: looping" not in read(p).split(b"\n\n")[0] or \
            b"multipart/report" in read(p)


def test_unknown_local_user_bounce(make_instance):
    """A recipient accepted (reject_unlisted_recipient off) but unknown at
    delivery comes back to the sender as an RFC 3464 report."""
    inst = make_instance(extra={"smtpd_reject_unlisted_recipient": "no"}).start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail(DEMO, ["ghost@example.test"],
                   b"Subject: to a ghost\r\n\r\nboo\r\n")
    msgs = inst.wait_messages(1)
    m = email.message_from_bytes(read(msgs[0]))
    assert m.get_content_type() == "multipart/report"
    assert m["To"] == DEMO
    status = [p for p in m.walk() if p.get_content_type() == "message/delivery-status"]
    assert status
    fields = status[0].get_payload()
    assert fields[1]["Final-Recipient"] == "rfc822; ghost@example.test"
    assert fields[1]["Action"] == "failed"
    assert fields[1]["Status"] == "5.1.1"
    return_path = read(msgs[0]).split(b"\n", 1)[0]
    assert return_path == b"Return-Path: <>"


def test_bounce_ret_hdrs_returns_the_header_only(make_instance):
    """DSN RET=HDRS: the report holds the original's header (up to the
    blank line) as text/rfc822-headers, never its body; RET=FULL (the
    default) the whole message."""
    inst = make_instance(extra={"smtpd_reject_unlisted_recipient": "no"}).start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.ehlo()
        s.sendmail(DEMO, ["ghost@example.test"],
                   b"Subject: headers only\r\n\r\nsecret body line\r\n",
                   mail_options=["RET=HDRS"])
        s.sendmail(DEMO, ["ghost2@example.test"],
                   b"Subject: full copy\r\n\r\nwhole body line\r\n")
    msgs = inst.wait_messages(2)
    reports = [email.message_from_bytes(read(m)) for m in msgs]
    parts = {p.get_content_type(): p for r in reports for p in r.walk()}
    hdrs = [p for r in reports for p in r.walk()
            if p.get_content_type() == "text/rfc822-headers"]
    assert len(hdrs) == 1
    text = hdrs[0].get_payload()
    assert "Subject: headers only" in text
    assert "secret body line" not in text
    assert "message/rfc822" in parts
    whole = b"".join(read(m) for m in msgs)
    assert b"whole body line" in whole and b"secret body line" not in whole


def test_sendmail_command(instance):
    p = instance.cmd("sendmail", "-f", "cron@example.test", DEMO,
                     input="Subject: from cron\n\nnightly report\n.\nafter dot\n")
    assert p.returncode == 0, p.stderr
    p = instance.cmd("sendmail", "-t", "-i",
                     input=f"To: Demo <{DEMO}>\nSubject: t flag\n\n.\nkept\n")
    assert p.returncode == 0, p.stderr
    msgs = instance.wait_messages(2)
    bodies = sorted(read(m) for m in msgs)
    joined = b"".join(bodies)
    assert b"nightly report" in joined and b"after dot" not in joined
    assert b"\n.\nkept\n" in joined
    assert b"Return-Path: <cron@example.test>" in joined
    # called as `sendmail` through argv[0]
    link = os.path.join(instance.dir, "sendmail")
    os.symlink(os.path.abspath(TEMPEST), link)
    env = dict(os.environ, TEMPEST_CONFIG_DIR=instance.etc)
    p = subprocess.run([link, DEMO], input=b"Subject: argv0\n\nx\n", env=env,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert len(instance.wait_messages(3)) == 3


def test_postconf(instance):
    p = instance.cmd("postconf", "-n")
    assert p.returncode == 0
    assert "virtual_mailbox_domains = example.test\n" in p.stdout
    assert "myhostname = mail.example.test\n" in p.stdout
    p = instance.cmd("postconf", "-d", "message_size_limit", "smtpd_relay_restrictions")
    assert p.stdout == ("message_size_limit = 10240000\nsmtpd_relay_restrictions = "
                        "permit_mynetworks, permit_sasl_authenticated, "
                        "defer_unauth_destination\n")
    p = instance.cmd("postconf", "mydestination", "smtpd_banner")
    assert p.stdout == "mydestination = localhost\nsmtpd_banner = mail.example.test ESMTP Tempest\n"
    with open(os.path.join(instance.etc, "main.cf"), "a") as f:
        f.write("smtpd_helo_required = perhaps\n")
    p = instance.cmd("postconf", "-n")
    assert p.returncode == 1
    assert re.search(r"main\.cf:\d+: bad boolean value for smtpd_helo_required", p.stderr)


def test_slow_content_filter_does_not_block_other_sessions(make_instance):
    """While one message waits for a slow content filter, another session
    of the same smtpd process is served (the filter call is on the loop)."""
    import socket
    import struct
    import threading
    import time
    inst = make_instance(extra={"spam_filter_service": "slowfilter",
                                "spam_filter_timeout": "20s"})
    inst.edit_master_cf(lambda t: re.sub(r"(inet  n       -       n       -       )-",
                                          r"\g<1>1", t, count=1))
    inst.start()
    path = os.path.join(inst.dir, "queue", "private", "slowfilter")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(8)
    calls = []

    def reply_frame():
        body = b"I" + struct.pack(">q", 0)          # FILTER_ACCEPT
        for _ in range(5):
            body += b"S" + struct.pack(">I", 0) + b"\0"
        body += b"I" + struct.pack(">q", 0)         # no groups
        return b"TMP1" + struct.pack(">II", 0x46494c52, len(body)) + body

    def handle(c):
        msg, fds, _, _ = socket.recv_fds(c, 65536, 4)
        for fd in fds:
            os.close(fd)
        calls.append(time.time())
        if len(calls) == 1:
            time.sleep(6)                            # the slow one
        c.sendall(reply_frame())
        c.close()

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    done = {}

    def send(name):
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
            s.sendmail("a@remote.test", [DEMO], f"Subject: {name}\r\n\r\nx\r\n".encode())
        done[name] = time.time()

    a = threading.Thread(target=send, args=("slow",))
    a.start()
    assert wait_for(lambda: len(calls) == 1, 10)
    send("fast")
    a.join(60)
    srv.close()
    # the fast session finished while the slow filter call still ran
    assert done["fast"] < done["slow"], done
    assert done["fast"] - calls[0] < 6, done
    assert len(inst.wait_messages(2)) == 2
