"""The SMTP server against hostile or unusual clients: what a client
sends must arrive whole or be refused, never be silently cut, and what
it names (HELO) must not put control characters into headers or logs."""
from conftest import wait_for
from smtputil import Raw

DEMO = "demo@example.test"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_bdat_long_line_arrives_whole(instance):
    """A line longer than 64 KiB inside BDAT chunks: every byte of it is
    kept (split into parts like a long DATA line), none dropped."""
    r = Raw(instance.smtp_port)
    r.reply()
    r.cmd("EHLO b")
    r.expect("MAIL FROM:<b@remote.test>", 250)
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    data = (b"Subject: long line\r\n\r\n" + b"x" * 100000 + b"\r\n" +
            b"y" * 150000 + b"\r\nend\r\n")
    r.send(b"BDAT %d LAST\r\n" % len(data) + data)
    code, lines = r.reply(timeout=20)
    assert code == 250 and "queued as" in lines[0], lines
    r.expect("QUIT", 221)
    msgs = instance.wait_messages(1)
    body = read(msgs[0])
    body = body[body.index(b"\n\n") + 2:]
    assert body.count(b"x") == 100000
    assert body.count(b"y") == 150000
    assert body.endswith(b"\nend\n")


def test_helo_control_characters_do_not_reach_headers(instance):
    """A bare CR (or another control character) inside the HELO name does
    not go into the Received: header (a CR there is a line break for some
    readers: header injection) nor into the log: it becomes '?'."""
    r = Raw(instance.smtp_port)
    r.reply()
    r.send(b"EHLO evil\rX-Injected: yes\x1b[31m\r\n")
    assert r.reply()[0] == 250
    r.expect("MAIL FROM:<b@remote.test>", 250)
    code, _ = r.cmd("RCPT TO:<nosuchuser@example.test>")   # logged reject
    assert code == 550
    r.expect(f"RCPT TO:<{DEMO}>", 250)
    r.expect("DATA", 354)
    r.send("Subject: helo\r\n\r\nbody\r\n.\r\n")
    code, lines = r.reply(timeout=20)
    assert code == 250, lines
    r.expect("QUIT", 221)
    msgs = instance.wait_messages(1)
    head = read(msgs[0]).split(b"\n\n", 1)[0]
    assert b"\r" not in head and b"\x1b" not in head
    assert b"Received: from evil?X-Injected: yes?[31m (" in head
    assert wait_for(lambda: "helo=<evil?X-Injected" in instance.log(), 20)
    assert "\x1b" not in instance.log() and "\r" not in instance.log()
