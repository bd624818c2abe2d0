"""8BITMIME -> 7bit downgrade: a next hop that does not offer 8BITMIME
gets 8-bit text parts as quoted-printable (RFC 6152 section 3), with the
same decoded content; one that offers it gets the bytes unchanged."""
import email
import email.policy
import os
import smtplib

from conftest import wait_for
from outbound_util import SMTPServer

TEXT = "Grüße aus Köln – naïve café\n" + "é" * 120 + "\n"

MSG = ("From: demo@example.test\r\n"
       "To: bob@old.test\r\n"
       "Subject: eight bit\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
       "\r\n"
       "--b1\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n"
       "\r\n" + TEXT.replace("\n", "\r\n") +
       "--b1\r\n"
       "Content-Type: application/octet-stream\r\n"
       "Content-Transfer-Encoding: base64\r\n"
       "\r\n"
       "AAECAwQ=\r\n"
       "--b1--\r\n")


def relay_to(make_instance, srv):
    snd = make_instance("sender", extra={
        "transport_maps": "texthash:$config_directory/transport",
        "smtp_tls_security_level": "none"})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"old.test  smtp:[127.0.0.1]:{srv.port}\n")
    return snd.start()


def send_8bit(snd):
    with smtplib.SMTP("127.0.0.1", snd.smtp_port, timeout=10) as s:
        s.sendmail("demo@example.test", ["bob@old.test"],
                   MSG.encode("utf-8"), mail_options=["BODY=8BITMIME"])


def first_message(srv):
    assert wait_for(lambda: srv.messages, 30)
    with srv.lock:
        return srv.messages[0]


def test_downgrade_when_8bitmime_missing(make_instance):
    srv = SMTPServer(eightbitmime=False)
    try:
        snd = relay_to(make_instance, srv)
        send_8bit(snd)
        m = first_message(srv)
        data = m["data"]
        # nothing with the high bit set went over the wire
        assert all(b < 0x80 for b in data), data[:400]
        mail = [c for c in srv.commands if c.upper().startswith("MAIL")]
        assert mail and "BODY=" not in mail[0].upper()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        parts = list(msg.iter_parts())
        assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
        # (the line end before a boundary belongs to the boundary)
        assert parts[0].get_content().replace("\r\n", "\n") == TEXT[:-1]
        # lines stay within the RFC 5322/2045 limits
        assert max(len(l) for l in data.split(b"\r\n")) <= 998
        assert all(len(l) <= 76 for l in
                   data.split(b"\r\n\r\n", 2)[2].split(b"\r\n")[:10])
        # the base64 part is left alone
        assert parts[1]["Content-Transfer-Encoding"] == "base64"
        assert parts[1].get_content() == b"\x00\x01\x02\x03\x04"
        assert wait_for(lambda: "converted to 7bit" in snd.log(), 20)
    finally:
        srv.stop()


def test_no_downgrade_when_8bitmime_offered(make_instance):
    srv = SMTPServer(eightbitmime=True)
    try:
        snd = relay_to(make_instance, srv)
        send_8bit(snd)
        m = first_message(srv)
        assert TEXT.replace("\n", "\r\n").encode("utf-8") in m["data"]
        mail = [c for c in srv.commands if c.upper().startswith("MAIL")]
        assert "BODY=8BITMIME" in mail[0].upper()
    finally:
        srv.stop()
