"""smtpd passes the content filter's SMTP reply to the client only if it
is one reply line whose code suits the filter's verdict: a compromised or
buggy filter must not inject reply lines or control characters.  A fake
filter (a few lines of Python speaking doc/filter-protocol.md on lib/ipc
frames) answers each request with a fixed verdict."""
import os
import smtplib
import socket
import struct
import threading
import time

import pytest

from conftest import wait_for

FILTER_REPLY = 0x46494c52
ACCEPT, TAG, QUARANTINE, REJECT, TEMPFAIL, SPLIT = range(6)

MSG = b"From: a@example.org\r\nTo: demo@example.test\r\nSubject: x\r\n\r\nhello\r\n"


def frame(action, reply, qid=b"", groups=()):
    """groups: (action, headers, subject tag, quarantine id, recipients)"""
    def st(s):
        return b"S" + struct.pack(">I", len(s)) + s + b"\0"
    body = b"I" + struct.pack(">q", action)
    for s in (b"", b"", reply, b"1.0", qid):
        body += st(s)
    body += b"I" + struct.pack(">q", len(groups))
    for a, h, t, q, r in groups:
        body += b"I" + struct.pack(">q", a) + st(h) + st(t) + st(q) + st(r)
    return b"TMP1" + struct.pack(">II", FILTER_REPLY, len(body)) + body


def recv_all(c, n):
    data = b""
    while len(data) < n:
        chunk = c.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class FakeFilter:
    """Listens at queue/private/NAME; answers every request with frame()."""

    def __init__(self, path, action, reply, qid=b"", groups=()):
        self.answer = frame(action, reply, qid, groups)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(8)
        self.requests = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                hdr = recv_all(c, 12)
                if len(hdr) < 12:
                    continue
                recv_all(c, struct.unpack(">I", hdr[8:12])[0])
                self.requests += 1
                c.sendall(self.answer)

    def stop(self):
        self.sock.close()


@pytest.fixture
def filtered(make_instance):
    made = []

    def start(action, reply, qid=b"", groups=()):
        inst = make_instance("freply", extra={
            "spam_filter_service": "fakefilter",
            "spam_filter_timeout": "20s"}).start()
        private = os.path.join(inst.dir, "queue", "private")
        os.makedirs(private, exist_ok=True)
        f = FakeFilter(os.path.join(private, "fakefilter"), action, reply,
                       qid, groups)
        made.append(f)
        return inst, f
    yield start
    for f in made:
        f.stop()


def send(inst):
    """All reply lines to DATA (code, [texts]) with a raw client."""
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        c.mail("a@example.org")
        assert c.rcpt("demo@example.test")[0] == 250
        c.putcmd("data")
        assert c.getreply()[0] == 354
        c.send(MSG + b".\r\n")
        code, text = c.getreply()
        # whatever came after the reply line (an injected line would)
        c.putcmd("noop")
        after = c.getreply()
        return code, text.decode("latin-1"), after


def test_valid_reject_reply_passes(filtered):
    inst, f = filtered(REJECT, b"550 5.7.1 Message content rejected as spam")
    code, text, after = send(inst)
    assert code == 550 and text == "5.7.1 Message content rejected as spam"
    assert after[0] == 250
    assert inst.messages() == []


@pytest.mark.parametrize("action,reply,why", [
    # an extra reply line: the client would take "250" as the reply to
    # its next command
    (REJECT, b"550 5.7.1 no\r\n250 2.0.0 Ok", "CR or LF"),
    (REJECT, b"550 5.7.1 no\n250 2.0.0 Ok", "CR or LF"),
    (REJECT, b"550-5.7.1 no", "code does not suit"),
    # a "reject" that says it accepted (the message is dropped)
    (REJECT, b"250 2.0.0 Ok: queued", "code does not suit"),
    (TEMPFAIL, b"550 5.7.1 no", "code does not suit"),
    (REJECT, b"550 4.7.1 no", "enhanced status code"),
    (REJECT, b"ok", "code does not suit"),
    (REJECT, b"550 5.7.1 " + b"x" * 600, "too long"),
], ids=["crlf-line", "lf-line", "multiline", "reject-2xx", "tempfail-5xx",
        "enhanced-class", "no-code", "too-long"])
def test_invalid_reply_tempfails(filtered, action, reply, why):
    inst, f = filtered(action, reply)
    code, text, after = send(inst)
    assert (code, text) == (451, "4.3.0 Error: content filter failure, "
                            "try again later"), (code, text)
    assert after[0] == 250, after
    assert f.requests == 1
    assert wait_for(lambda: "content filter: invalid reply" in inst.log()
                    and why in inst.log(), 20), inst.log()
    assert inst.messages() == []


@pytest.mark.parametrize("reply,qid,want,why", [
    (b"550 5.7.1 no", b"0123456789abcdef",
     "2.7.0 Ok: quarantined as 0123456789abcdef", "reply code does not suit"),
    (b"", b"0123456789abcdef",
     "2.7.0 Ok: quarantined as 0123456789abcdef", "reply code does not suit"),
    # neither the reply nor the id reach the client
    (b"250 2.7.0 Ok\r\n250 2.0.0 more", b"id\r\n250 x",
     "2.7.0 Ok: quarantined", "CR or LF"),
], ids=["quarantine-5xx", "quarantine-empty", "quarantine-crlf"])
def test_invalid_quarantine_reply_stores_once(filtered, reply, qid, want, why):
    """A quarantine verdict means the filter has stored the message: a
    451 would make the client send it again and the filter store a
    second copy.  smtpd answers 250 in its own words instead."""
    inst, f = filtered(QUARANTINE, reply, qid)
    for _ in range(2):          # a client retries after a 4xx
        code, text, after = send(inst)
        if code < 400:
            break
    assert (code, text) == (250, want), (code, text)
    assert after[0] == 250, after
    assert f.requests == 1
    assert wait_for(lambda: "content filter: invalid reply for quarantine: "
                    + why in inst.log(), 20), inst.log()
    assert inst.messages() == []


def test_control_characters_replaced(filtered):
    inst, f = filtered(QUARANTINE, b"250 2.7.0 Ok: \x1b[2Jquarantined \x7f\xff")
    code, text, after = send(inst)
    assert code == 250
    assert text == "2.7.0 Ok: ?[2Jquarantined ??", text
    assert after[0] == 250
    assert inst.messages() == []


def test_empty_reject_reply_gets_default(filtered):
    inst, f = filtered(TEMPFAIL, b"")
    code, text, after = send(inst)
    assert code == 451 and text.startswith("4.7.1"), (code, text)
    assert after[0] == 250


@pytest.mark.parametrize("groups", [
    [(TAG, b"X-Test: split\n", b"", b"", b"demo@example.test\nroot@example.test")],
    [(TAG, b"X-Test: split\n", b"", b"", b"root@example.test")],
    [(TAG, b"", b"", b"", b"demo@example.test"),
     (QUARANTINE, b"", b"", b"q1", b"demo@example.test")],
    [(QUARANTINE, b"", b"", b"q1", b"")],
], ids=["adds-recipient", "other-recipient", "twice", "none"])
def test_split_must_name_the_recipients(filtered, groups):
    """A split verdict must put each recipient of the message in exactly
    one group: a filter must not be able to add a recipient (an open
    relay) or deliver one twice.  Otherwise 451, nothing queued."""
    inst, f = filtered(SPLIT, b"", groups=groups)
    code, text, after = send(inst)
    assert (code, text) == (451, "4.3.0 Error: content filter failure, "
                            "try again later"), (code, text)
    assert after[0] == 250
    assert wait_for(lambda: "content filter: invalid split" in inst.log(), 20), inst.log()
    time.sleep(1)
    assert inst.messages() == [] and "root@" not in inst.log().split("invalid split")[1]


def test_split_tagged_copy(filtered):
    inst, f = filtered(SPLIT, b"", groups=[
        (TAG, b"X-Test: split\n", b"[T] ", b"", b"demo@example.test")])
    code, text, after = send(inst)
    assert code == 250 and text.startswith("2.0.0 Ok: queued as"), (code, text)
    msgs = inst.wait_messages(1)
    assert len(msgs) == 1, inst.log()
    with open(msgs[0], "rb") as fh:
        body = fh.read()
    assert b"\nX-Test: split\n" in body and b"Subject: [T] x" in body, body
