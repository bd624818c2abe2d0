"""Tempest and a real Postfix (Debian's package) as SMTP peers, both
ways, on loopback with no DNS (tests/interop_util.py runs the private
Postfix; one instance for the whole file).

Tempest -> Postfix: Tempest's `smtp` client, routed by transport_maps
to [127.0.0.1]:port, delivers over STARTTLS (smtp_tls_security_level
may and encrypt) to Postfix's smtpd, which puts the mail into its
Maildir: 8-bit bodies intact when Postfix offers 8BITMIME, converted to
quoted-printable when it does not, a 3 MB message byte for byte
(dot-stuffed lines included), cached TLS sessions ended with QUIT, no
plaintext delivery under `encrypt` when Postfix offers no STARTTLS;
DSN parameters (NOTIFY, ORCPT, ENVID, RET) passed on, so that Postfix's
success DSN comes back; a recipient Postfix refuses at RCPT and a
message over Postfix's SIZE are returned to the sender with Postfix's
reply / the size.

Postfix -> Tempest: Postfix's smtp client relays (relayhost
[127.0.0.1]:port, TLS policy "fingerprint": Tempest's smtpd_tls_cert_file
is pinned, PIPELINING,
8BITMIME, DSN parameters) into Tempest's smtpd; the messages (one of
4 MB) land in Tempest's Maildir with every original header line and the
body unchanged; a recipient Tempest refuses comes back from Postfix as
a bounce carrying Tempest's reply; SMTPUTF8 envelopes both ways.
Postfix as a satellite relays through Tempest's submission port with
SMTP AUTH from its Cyrus SASL client: PLAIN, LOGIN and SCRAM-SHA-256."""
import email
import email.policy
import os
import secrets
import smtplib
import subprocess
import tempfile
import shutil

import pytest

from conftest import free_port, wait_for
from interop_util import (Postfix, header_block, make_cert, postfix_missing,
                          read_bytes)

pytestmark = pytest.mark.skipif(postfix_missing() is not None,
                                reason=str(postfix_missing()))

# Tempest's smtpd port for the Postfix -> Tempest tests: Postfix's
# relayhost points there, the receiving Tempest listens there
RELAY_PORT = free_port() if postfix_missing() is None else 0
# Tempest's submission port for Postfix as an authenticating satellite
SUB_PORT = free_port() if postfix_missing() is None else 0
SAT_USER = "sat@example.test"
SAT_PASSWORD = "sat-" + secrets.token_urlsafe(12)
SAT_MECHS = ("plain", "login", "scram-sha-256")

TEXT = "Grüße aus Köln – naïve café\n" + "é" * 100 + "\n"
MSG_8BIT = ("From: Demo <demo@example.test>\r\n"
            "To: demo@remote.test\r\n"
            "Subject: eight bit to postfix\r\n"
            "Message-ID: <8bit.interop@example.test>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n" + TEXT.replace("\n", "\r\n")).encode("utf-8")


def big_body(size):
    """A body of about `size` bytes: numbered lines, every 7th starting
    with a dot (dot-stuffing both ways), some 8-bit."""
    lines, n, i = [], 0, 0
    while n < size:
        ln = f"line {i:07d} " + "x" * 60
        if i % 7 == 0:
            ln = "." + ln
        if i % 11 == 0:
            ln += " é"
        lines.append(ln)
        n += len(ln.encode()) + 2
        i += 1
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture(scope="module")
def postfix():
    base = tempfile.mkdtemp(prefix="tempest-postfix-")
    os.chmod(base, 0o755)
    # mail from MECH@remote.test goes through Tempest's submission port
    # with SMTP AUTH (Cyrus SASL in Postfix's smtp client), one smtp
    # transport per mechanism
    sat = f"[127.0.0.1]:{SUB_PORT}"
    # the receiving Tempest (on RELAY_PORT) gets a certificate made here,
    # so Postfix can pin it (TLS policy "fingerprint"): Postfix checks
    # that Tempest presents exactly this certificate
    tcert, tkey = make_cert(os.path.join(base, "tempest-tls"),
                            "mail.example.test")
    fp = subprocess.run(["openssl", "x509", "-in", tcert, "-noout",
                         "-fingerprint", "-sha256"], capture_output=True,
                        text=True, check=True).stdout.strip().split("=", 1)[1]
    pf = Postfix(
        base, domains=("remote.test", "old.test", "small.test", "limit.test"),
        mailboxes=[f"r{i}@limit.test" for i in range(5)],
        relay=f"[127.0.0.1]:{RELAY_PORT}",
        main={"smtp_tls_security_level": "encrypt",
              "sender_dependent_default_transport_maps":
                  "texthash:$config_directory/sender_transport",
              "smtp_sasl_auth_enable": "yes",
              "smtp_sasl_password_maps": "texthash:$config_directory/sasl_passwd",
              "smtp_sasl_security_options": "noanonymous",
              "smtp_sasl_tls_security_options": "noanonymous",
              "smtp_tls_policy_maps": "texthash:$config_directory/tls_policy",
              "smtp_tls_fingerprint_digest": "sha256"},
        master_extra="".join(
            f"sat{i} unix - - n - - smtp\n  -o smtp_sasl_mechanism_filter={m}\n"
            for i, m in enumerate(SAT_MECHS)),
        files={"sender_transport": "".join(
                   f"{m}@remote.test sat{i}:{sat}\n"
                   for i, m in enumerate(SAT_MECHS)),
               "sasl_passwd": f"{sat} {SAT_USER}:{SAT_PASSWORD}\n",
               "tls_policy": f"[127.0.0.1]:{RELAY_PORT} fingerprint "
                             f"match={fp}\n"})
    pf.tempest_tls = {"smtpd_tls_cert_file": tcert,
                      "smtpd_tls_key_file": tkey}
    pf.start()
    yield pf
    pf.stop()
    if not os.environ.get("TEMPEST_KEEP_TEST_DIRS"):
        shutil.rmtree(base, ignore_errors=True)


def sender(make_instance, pf, level="may", name="sender", ports=None,
           **extra):
    """A Tempest whose smtp client routes remote.test, plain.test,
    old.test, small.test and limit.test to the Postfix listeners (no
    DNS: transport_maps)."""
    snd = make_instance(name, ports=ports, extra={
        "transport_maps": "texthash:$config_directory/transport",
        "smtp_tls_security_level": level,
        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        "queue_run_delay": "1s", **extra})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"remote.test  smtp:[127.0.0.1]:{pf.port}\n"
                f"plain.test   smtp:[127.0.0.1]:{pf.plain_port}\n"
                f"old.test     smtp:[127.0.0.1]:{pf.no8bit_port}\n"
                f"small.test   smtp:[127.0.0.1]:{pf.small_port}\n"
                f"limit.test   smtp:[127.0.0.1]:{pf.limit_port}\n")
    return snd.start()


def submit(inst, rcpts, data, sender_addr="demo@example.test", eight=False):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60) as s:
        s.sendmail(sender_addr, rcpts, data,
                   mail_options=["BODY=8BITMIME"] if eight else [])


def body_of(raw):
    i = raw.find(b"\n\n")
    j = raw.find(b"\r\n\r\n")
    if j >= 0 and (i < 0 or j < i):
        return raw[j + 4:]
    return raw[i + 2:]


def test_tempest_to_postfix_starttls_8bit_and_large(make_instance, postfix):
    mark = postfix.mark()
    snd = sender(make_instance, postfix, level="may")
    submit(snd, ["demo@remote.test"], MSG_8BIT, eight=True)
    big = big_body(3 * 1024 * 1024)
    hdr = (b"From: demo@example.test\r\nTo: demo@remote.test\r\n"
           b"Subject: large to postfix\r\nMessage-ID: <big.interop@example.test>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n")
    submit(snd, ["demo@remote.test"], hdr + big, eight=True)

    p8 = postfix.message_with(b"<8bit.interop@example.test>")
    assert p8, snd.log()[-3000:] + postfix.log()[-3000:]
    raw = read_bytes(p8)
    # 8BITMIME offered: the bytes arrive unchanged, no conversion
    assert TEXT.replace("\n", "\r\n").encode() in raw.replace(b"\n", b"\r\n") \
        or TEXT.encode() in raw
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["Content-Transfer-Encoding"] == "8bit"
    # Postfix saw TLS from Tempest (its Received header and its log)
    assert "ESMTPS" in m["Received"], m["Received"]
    assert "TLS connection established from" in postfix.log()

    pb = postfix.message_with(b"<big.interop@example.test>", timeout=120)
    assert pb, snd.log()[-3000:] + postfix.log()[-3000:]
    got = body_of(read_bytes(pb)).replace(b"\r\n", b"\n")
    assert got == big.replace(b"\r\n", b"\n")
    assert wait_for(lambda: snd.log().count("status=sent") >= 2, 30), snd.log()
    assert "TLS connection established to" in snd.log()
    assert wait_for(snd.queue_empty, 30)
    # the cached TLS session(s) idle out and Tempest ends each with QUIT
    # (RFC 5321 4.1.1.10) rather than dropping the connection
    done = wait_for(lambda: sum(ln.count("mail=") and int(
        ln.split(" mail=")[1].split()[0]) for ln in postfix.sessions(mark))
        >= 2 and postfix.sessions(mark), 30)
    assert done, postfix.log(mark)
    for ln in done:
        assert "starttls=1" in ln and "quit=1" in ln, done


def test_tempest_encrypt_level_needs_postfix_starttls(make_instance, postfix):
    snd = sender(make_instance, postfix, level="encrypt", name="enc")
    submit(snd, ["demo@remote.test"],
           b"From: demo@example.test\r\nTo: demo@remote.test\r\n"
           b"Subject: must be encrypted\r\nMessage-ID: <enc.interop@example.test>\r\n"
           b"\r\nsecret\r\n")
    p = postfix.message_with(b"<enc.interop@example.test>")
    assert p, snd.log()[-3000:] + postfix.log()[-3000:]
    m = email.message_from_bytes(read_bytes(p), policy=email.policy.default)
    assert "ESMTPS" in m["Received"]
    # Postfix's plain listener offers no STARTTLS: Tempest must not send
    # the message in clear; it is deferred and stays queued
    submit(snd, ["bob@plain.test"],
           b"From: demo@example.test\r\nTo: bob@plain.test\r\n"
           b"Subject: no tls there\r\nMessage-ID: <clear.interop@example.test>\r\n"
           b"\r\nsecret\r\n")
    assert wait_for(lambda: "status=deferred" in snd.log(), 60), snd.log()
    log = snd.log()
    line = [ln for ln in log.splitlines() if "status=deferred" in ln][0]
    assert "TLS" in line or "STARTTLS" in line, line
    assert snd.queue_messages("deferred") or snd.queue_messages("active")
    # Postfix saw the connection end without MAIL FROM
    assert wait_for(lambda: [ln for ln in postfix.log().splitlines()
                             if "disconnect from" in ln and "ehlo=1" in ln
                             and "mail=" not in ln and "starttls" not in ln], 30), \
        postfix.log()[-3000:]
    assert not postfix.message_with(b"<clear.interop@example.test>", 0)


def test_tempest_downgrades_8bit_for_postfix_without_8bitmime(make_instance,
                                                             postfix):
    snd = sender(make_instance, postfix, level="may", name="old")
    data = MSG_8BIT.replace(b"To: demo@remote.test", b"To: demo@old.test") \
        .replace(b"<8bit.interop@", b"<old.interop@")
    submit(snd, ["demo@old.test"], data, eight=True)
    p = postfix.message_with(b"<old.interop@example.test>", domain="old.test")
    assert p, snd.log()[-3000:] + postfix.log()[-3000:]
    raw = read_bytes(p)
    # RFC 6152: nothing with the high bit set went to a server without
    # 8BITMIME; the text part is quoted-printable with the same content
    assert all(b < 128 for b in raw), raw[:2000]
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m["Content-Transfer-Encoding"] == "quoted-printable"
    assert m.get_content() == TEXT
    assert m["Subject"] == "eight bit to postfix"
    assert "does not offer 8BITMIME" in snd.log()


ORIG_HEADERS = [
    b"From: =?utf-8?q?J=C3=B6rg?= <demo@remote.test>",
    b"To: Demo <demo@example.test>",
    b"Subject: relayed by postfix, with a long subject that is folded",
    b"  over two lines",
    b"Message-ID: <relay.interop@remote.test>",
    b"Date: Sun, 29 Nov 2026 08:00:00 +0000",
    b"X-Custom:   spaced   value\t",
    b"MIME-Version: 1.0",
    b'Content-Type: multipart/mixed; boundary="=_b1"',
]
RELAY_BODY = (b"--=_b1\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: 8bit\r\n\r\n"
              + TEXT.replace("\n", "\r\n").encode() +
              b".leading dot\r\n"
              b"--=_b1\r\n"
              b"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
              b"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n"
              b"AAECAwQFBgcICQ==\r\n"
              b"--=_b1--\r\n")


def test_postfix_relays_into_tempest_over_starttls(make_instance, postfix):
    mark = postfix.mark()
    recv = make_instance("relay", ports={"smtp": RELAY_PORT},
                         extra=postfix.tempest_tls).start()
    data = b"\r\n".join(ORIG_HEADERS) + b"\r\n\r\n" + RELAY_BODY
    big = big_body(4 * 1024 * 1024)
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as s:
        s.ehlo()
        s.starttls()
        s.sendmail("demo@remote.test", ["demo@example.test"], data,
                   mail_options=["BODY=8BITMIME", "ENVID=env-1"],
                   rcpt_options=["NOTIFY=FAILURE",
                                 "ORCPT=rfc822;demo@example.test"])
        # and a large one (dot-stuffed lines, 8-bit) on the same session
        s.sendmail("demo@remote.test", ["demo@example.test"],
                   b"From: demo@remote.test\r\nTo: demo@example.test\r\n"
                   b"Subject: large from postfix\r\n"
                   b"Message-ID: <big.relay@remote.test>\r\n\r\n" + big,
                   mail_options=["BODY=8BITMIME"])
    msgs = recv.wait_messages(2, timeout=120)
    assert len(msgs) == 2, postfix.log(mark)[-3000:] + recv.log()[-3000:]
    by_id = {b"<big.relay@remote.test>" in read_bytes(p): p for p in msgs}
    got = body_of(read_bytes(by_id[True])).replace(b"\r\n", b"\n")
    assert got == big.replace(b"\r\n", b"\n")
    raw = read_bytes(by_id[False]).replace(b"\r\n", b"\n")
    # every original header line arrives unchanged and in order, after
    # the trace headers of Tempest and Postfix
    hdr = header_block(raw).split(b"\n")
    i = hdr.index(ORIG_HEADERS[0])
    assert hdr[i:i + len(ORIG_HEADERS)] == ORIG_HEADERS, hdr
    assert body_of(raw) == RELAY_BODY.replace(b"\r\n", b"\n")
    m = email.message_from_bytes(raw, policy=email.policy.default)
    received = m.get_all("Received")
    assert len(received) == 2, received     # Tempest's, then Postfix's
    assert "ESMTPS" in received[0] and "mx.remote.test" in received[0], received
    assert "(Postfix) with ESMTPS" in received[1], received
    att = [p for p in m.iter_attachments()]
    assert att and att[0].get_content() == bytes(range(10))
    # Postfix's side: TLS to Tempest (smtp_tls_security_level = encrypt)
    assert wait_for(lambda: "status=sent" in postfix.log(mark), 30)
    log = postfix.log(mark)
    # the certificate Tempest presented is the one Postfix pinned
    assert f"Verified TLS connection established to 127.0.0.1[127.0.0.1]:" \
        f"{RELAY_PORT}" in log, log
    assert wait_for(lambda: postfix.log(mark).count("status=sent") >= 2, 30)
    sent = [ln for ln in log.splitlines() if "status=sent" in ln]
    assert f"relay=127.0.0.1[127.0.0.1]:{RELAY_PORT}" in sent[0], sent
    # the reply Postfix logged is Tempest's to the end of the content
    assert "queued as" in sent[0], sent


def test_tempest_refusal_comes_back_as_postfix_bounce(make_instance, postfix):
    mark = postfix.mark()
    recv = make_instance("refuse", ports={"smtp": RELAY_PORT},
                         extra=postfix.tempest_tls).start()
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as s:
        s.sendmail("demo@remote.test", ["nobody@example.test"],
                   b"From: demo@remote.test\r\nTo: nobody@example.test\r\n"
                   b"Subject: to nobody\r\n"
                   b"Message-ID: <nobody.interop@remote.test>\r\n\r\nhi\r\n")
    # Tempest refuses the unknown user at RCPT; Postfix returns the
    # message to its sender with Tempest's reply as the diagnostic
    b = postfix.message_with(b"<nobody.interop@remote.test>", 60)
    assert b, postfix.log(mark)[-3000:] + recv.log()[-3000:]
    m = email.message_from_bytes(read_bytes(b), policy=email.policy.default)
    assert m.get_content_type() == "multipart/report", m
    report = [p for p in m.walk()
              if p.get_content_type() == "message/delivery-status"][0]
    text = report.as_string()
    assert "Action: failed" in text and "Status: 5.1.1" in text, text
    assert "Diagnostic-Code: smtp; 550" in text, text
    assert "nobody@example.test" in text
    assert recv.messages() == []
    assert "reject: RCPT from" in recv.log() or "550" in recv.log()


def nospace(v):
    return "".join(str(v).split())


def dsn_parts(path):
    m = email.message_from_bytes(read_bytes(path))
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    for part in m.walk():
        if part.get_content_type() == "message/delivery-status":
            return m, part.get_payload()
    raise AssertionError("no delivery-status part")


def test_dsn_parameters_reach_postfix_and_success_dsn_comes_back(
        make_instance, postfix):
    """Tempest passes NOTIFY, ORCPT, ENVID and RET on to Postfix; Postfix
    (the final destination) sends the success DSN, which it relays back
    to Tempest (its relayhost is this Tempest's smtpd)."""
    mark = postfix.mark()
    snd = sender(make_instance, postfix, ports={"smtp": RELAY_PORT},
                 name="dsn", **postfix.tempest_tls)
    with smtplib.SMTP("127.0.0.1", snd.smtp_port, timeout=60) as s:
        s.sendmail("demo@example.test", ["demo@remote.test"],
                   b"From: demo@example.test\r\nTo: demo@remote.test\r\n"
                   b"Subject: notify me\r\n"
                   b"Message-ID: <dsn.interop@example.test>\r\n\r\nhi\r\n",
                   mail_options=["RET=HDRS", "ENVID=interop-envid-1"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                 "ORCPT=rfc822;first-hop@remote.test"])
    assert postfix.message_with(b"<dsn.interop@example.test>"), \
        snd.log()[-3000:] + postfix.log(mark)[-3000:]
    msgs = snd.wait_messages(1, timeout=60)
    assert msgs, snd.log()[-3000:] + postfix.log(mark)[-3000:]
    m, fields = dsn_parts(msgs[0])
    assert fields[0]["Original-Envelope-Id"] == "interop-envid-1", fields[0]
    rcpt = fields[1]
    assert rcpt["Action"] == "delivered", rcpt
    assert nospace(rcpt["Original-Recipient"]) == \
        "rfc822;first-hop@remote.test", rcpt
    assert nospace(rcpt["Final-Recipient"]) == "rfc822;demo@remote.test", rcpt
    # RET=HDRS: Postfix returned only the headers
    assert b"Message-ID: <dsn.interop@example.test>" in read_bytes(msgs[0])


def test_postfix_rejects_one_recipient_and_size(make_instance, postfix):
    """Postfix refuses one recipient of two (unknown user, 550 at RCPT):
    Tempest delivers the other and returns the refused one with
    Postfix's reply; a message over the SIZE Postfix announces is
    returned without being sent."""
    mark = postfix.mark()
    snd = sender(make_instance, postfix, name="partial")
    submit(snd, ["demo@remote.test", "nobody@remote.test"],
           b"From: demo@example.test\r\nTo: demo@remote.test, "
           b"nobody@remote.test\r\nSubject: two\r\n"
           b"Message-ID: <two.interop@example.test>\r\n\r\nhi\r\n")
    assert postfix.message_with(b"<two.interop@example.test>"), \
        snd.log()[-3000:] + postfix.log(mark)[-3000:]
    big = b"x" * 76 + b"\r\n"
    submit(snd, ["demo@small.test"],
           b"From: demo@example.test\r\nTo: demo@small.test\r\n"
           b"Subject: too big\r\nMessage-ID: <big2.interop@example.test>\r\n"
           b"\r\n" + big * (2 * Postfix.SMALL_LIMIT // len(big)))
    msgs = snd.wait_messages(2, timeout=60)
    assert len(msgs) == 2, snd.log()[-3000:]
    reports = {}
    for path in msgs:
        m, fields = dsn_parts(path)
        reports[nospace(fields[1]["Final-Recipient"])] = fields[1]
    nobody = reports["rfc822;nobody@remote.test"]
    assert nobody["Action"] == "failed" and nobody["Status"] == "5.1.1"
    # RFC 3464: the SMTP reply as an smtp diagnostic, and who said it
    assert nobody["Diagnostic-Code"].startswith("smtp; 550 5.1.1 "), nobody
    assert "User unknown" in nobody["Diagnostic-Code"], nobody
    assert nobody["Remote-MTA"] == "dns; 127.0.0.1", nobody
    small = reports["rfc822;demo@small.test"]
    assert small["Action"] == "failed" and small["Status"] == "5.3.4", small
    # the big one never reached Postfix's cleanup
    assert "<big2.interop@example.test>" not in postfix.log(mark)
    assert not postfix.message_with(b"<big2.interop@example.test>", 0,
                                    domain="small.test")
    assert wait_for(snd.queue_empty, 30), snd.log()[-3000:]


def test_smtputf8_both_ways(make_instance, postfix):
    """A UTF-8 envelope sender (RFC 6531) goes from Tempest to Postfix
    and from Postfix into Tempest, with SMTPUTF8 on both hops."""
    mark = postfix.mark()
    snd = sender(make_instance, postfix, ports={"smtp": RELAY_PORT},
                 name="utf8", **postfix.tempest_tls)
    msg = ("From: Jörg <jörg@example.test>\r\nTo: demo@remote.test\r\n"
           "Subject: utf8 envelope\r\nMessage-ID: <utf8.out@example.test>\r\n"
           "\r\nGrüße\r\n").encode()
    with smtplib.SMTP("127.0.0.1", snd.smtp_port, timeout=60) as s:
        s.sendmail("jörg@example.test", ["demo@remote.test"], msg,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    p = postfix.message_with(b"<utf8.out@example.test>")
    assert p, snd.log()[-3000:] + postfix.log(mark)[-3000:]
    assert read_bytes(p).startswith("Return-Path: <jörg@example.test>".encode())
    assert "from=<jörg@example.test>" in postfix.log(mark)
    # and back: Postfix relays a UTF-8 sender into Tempest
    msg2 = msg.replace(b"<utf8.out@", b"<utf8.in@") \
        .replace("jörg@example.test".encode(), "jörg@remote.test".encode()) \
        .replace(b"To: demo@remote.test", b"To: demo@example.test")
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as s:
        s.sendmail("jörg@remote.test", ["demo@example.test"], msg2,
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    msgs = snd.wait_messages(1, timeout=60)
    assert msgs, postfix.log(mark)[-3000:] + snd.log()[-3000:]
    raw = read_bytes(msgs[0])
    assert raw.startswith("Return-Path: <jörg@remote.test>".encode()), raw[:300]
    assert b"<utf8.in@example.test>" in raw
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert "UTF8SMTPS" in m["Received"], m["Received"]


def test_verify_level_against_postfix_certificate(make_instance, postfix):
    """smtp_tls_security_level = verify with Postfix's certificate as the
    CA: delivered; with a CA that did not sign it: deferred, nothing
    sent."""
    ok = sender(make_instance, postfix, level="verify", name="verify",
                smtp_tls_CAfile=postfix.cert)
    submit(ok, ["demo@remote.test"],
           b"From: demo@example.test\r\nTo: demo@remote.test\r\n"
           b"Subject: verified\r\nMessage-ID: <verified.interop@example.test>\r\n"
           b"\r\nhi\r\n")
    assert postfix.message_with(b"<verified.interop@example.test>"), \
        ok.log()[-3000:]
    assert wait_for(lambda: "Verified TLS connection established" in ok.log()
                    or "Trusted TLS connection established" in ok.log(), 30), \
        ok.log()[-3000:]
    other = tempfile.mkdtemp(prefix="tempest-ca-")
    os.chmod(other, 0o755)      # the smtp service runs as the mail owner
    try:
        ca, _ = make_cert(other, "other-ca.test")
        bad = sender(make_instance, postfix, level="verify", name="noverify",
                     smtp_tls_CAfile=ca)
        submit(bad, ["demo@remote.test"],
               b"From: demo@example.test\r\nTo: demo@remote.test\r\n"
               b"Subject: unverified\r\n"
               b"Message-ID: <unverified.interop@example.test>\r\n\r\nhi\r\n")
        assert wait_for(lambda: "status=deferred" in bad.log(), 60), \
            bad.log()[-3000:]
        assert "cannot create the client TLS context" not in bad.log()
        line = [ln for ln in bad.log().splitlines()
                if "status=deferred" in ln][0]
        assert "dsn=4.7.5" in line and "certificate not verified" in line, line
        assert not postfix.message_with(b"<unverified.interop@example.test>", 0)
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_postfix_satellite_authenticates_to_tempest_submission(make_instance,
                                                               postfix):
    """Postfix as a satellite relaying through Tempest's submission port
    (STARTTLS required, SMTP AUTH with Postfix's Cyrus SASL client):
    PLAIN, LOGIN and SCRAM-SHA-256 against a {SCRAM-SHA-256} secret."""
    mark = postfix.mark()
    recv = make_instance("submit", ports={"submission": SUB_PORT}, extra={
        "smtpd_sasl_mechanisms": "PLAIN LOGIN SCRAM-SHA-256",
        "auth_failure_delay": "0"})
    p = recv.cmd("passwd", "-s", "SCRAM-SHA-256", SAT_USER,
                 input=SAT_PASSWORD + "\n")
    assert p.returncode == 0, p.stderr
    recv.start()
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=60) as s:
        for m in SAT_MECHS:
            s.sendmail(f"{m}@remote.test", ["demo@example.test"],
                       (f"From: {m}@remote.test\r\nTo: demo@example.test\r\n"
                        f"Subject: via {m}\r\n"
                        f"Message-ID: <sat-{m}@remote.test>\r\n\r\nhi\r\n"
                        ).encode())
    msgs = recv.wait_messages(len(SAT_MECHS), timeout=60)
    assert len(msgs) == len(SAT_MECHS), \
        postfix.log(mark)[-4000:] + recv.log()[-4000:]
    for path in msgs:
        m = email.message_from_bytes(read_bytes(path), policy=email.policy.default)
        assert "ESMTPSA" in m["Received"], m["Received"]
    log = recv.log()
    for m in SAT_MECHS:
        assert f"sasl_method={m.upper()}, sasl_username={SAT_USER}" in log, \
            (m, log[-4000:])
    assert wait_for(lambda: postfix.log(mark).count(
        f"relay=127.0.0.1[127.0.0.1]:{SUB_PORT}") >= len(SAT_MECHS), 30), \
        postfix.log(mark)


def test_cached_session_quits_on_reload(make_instance, postfix):
    """A reload drains the smtp process: its cached TLS session to
    Postfix still ends with QUIT."""
    mark = postfix.mark()
    snd = sender(make_instance, postfix, name="reload",
                 smtp_connection_cache_time_limit="60s")
    submit(snd, ["demo@remote.test"],
           b"From: demo@example.test\r\nTo: demo@remote.test\r\n"
           b"Subject: then reload\r\nMessage-ID: <reload.interop@example.test>\r\n"
           b"\r\nhi\r\n")
    assert postfix.message_with(b"<reload.interop@example.test>"), \
        snd.log()[-3000:]
    assert wait_for(lambda: "status=sent" in snd.log(), 30)
    assert snd.cmd("reload").returncode == 0
    done = wait_for(lambda: postfix.sessions(mark), 30)
    assert done, postfix.log(mark)[-3000:]
    assert "starttls=1" in done[0] and "quit=1" in done[0], done


def test_recipients_over_postfix_limit_all_delivered_once(make_instance,
                                                          postfix):
    """Postfix takes at most 2 recipients per message (452 4.5.3 Error:
    too many recipients for the others): Tempest still gets every one of
    5 recipients delivered, each exactly once."""
    mark = postfix.mark()
    snd = sender(make_instance, postfix, name="limit")
    rcpts = [f"r{i}@limit.test" for i in range(5)]
    submit(snd, rcpts,
           b"From: demo@example.test\r\nTo: undisclosed-recipients:;\r\n"
           b"Subject: five\r\nMessage-ID: <five.interop@example.test>\r\n"
           b"\r\nhi\r\n")
    def delivered():
        return [ln for ln in postfix.log(mark).splitlines()
                if "relay=virtual" in ln and "status=sent" in ln]
    assert wait_for(lambda: len(delivered()) >= 5 and snd.queue_empty(), 60), \
        snd.log()[-3000:] + postfix.log(mark)[-3000:]
    got = sorted(ln.split("to=<")[1].split(">")[0] for ln in delivered())
    assert got == rcpts, got
    assert len([p for p in postfix.messages("limit.test")
                if b"<five.interop@example.test>" in read_bytes(p)]) == 5
    # Tempest saw the 452s and sent each recipient once
    assert snd.log().count("status=sent") == 5, snd.log()[-3000:]
