"""POP3 end to end with Python's poplib and curl: USER/PASS, AUTH PLAIN,
CAPA, STLS, STAT/LIST/UIDL (stable across sessions and shared with the
IMAP UIDs), TOP, RETR (dot-stuffing), DELE/RSET and QUIT's UPDATE state,
POP3S, the plaintext policy and bad input."""
import base64
import imaplib
import poplib
import shutil
import ssl
import subprocess

import pytest

from imap_helpers import Raw, start_instance

USER = "demo@example.test"
CTX = ssl._create_unverified_context()


@pytest.fixture
def inst(make_instance):
    i = start_instance(make_instance)
    from conftest import wait_port
    wait_port(i.ports["pop3"])
    wait_port(i.ports["pop3s"])
    return i


def put(inst, *msgs):
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30)
    m.login(USER, inst.password)
    for msg in msgs:
        m.append("INBOX", None, None, msg)
    m.logout()


M1 = b"Subject: one\r\n\r\nfirst\r\n.dotted line\r\nlast\r\n"
M2 = b"Subject: two\r\n\r\nl1\r\nl2\r\nl3\r\n"


def test_user_pass_stat_list_retr_top(inst):
    put(inst, M1, M2)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    caps = p.capa()
    assert "UIDL" in caps and "TOP" in caps and "STLS" in caps and "USER" in caps
    p.user(USER)
    p.pass_(inst.password)
    assert p.stat() == (2, len(M1) + len(M2))
    resp, lst, _ = p.list()
    assert lst == [b"1 %d" % len(M1), b"2 %d" % len(M2)]
    resp, lines, octets = p.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == M1      # dot-unstuffed by poplib
    resp, lines, _ = p.top(2, 1)
    assert lines == [b"Subject: two", b"", b"l1"]
    u1 = p.uidl()[1]
    p.quit()
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(USER)
    p.pass_(inst.password)
    assert p.uidl()[1] == u1                        # stable
    p.quit()


def test_dele_rset_quit_update(inst):
    put(inst, M1, M2)
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(USER)
    p.pass_(inst.password)
    p.dele(1)
    with pytest.raises(poplib.error_proto):
        p.retr(1)
    p.rset()
    p.dele(2)
    assert p.stat()[0] == 1
    p.quit()
    assert len(inst.messages()) == 1
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(USER)
    p.pass_(inst.password)
    assert p.stat()[0] == 1
    # a dropped connection does not enter UPDATE: nothing is deleted
    p.dele(1)
    p.sock.close()
    assert len(inst.messages()) == 1


def test_auth_plain_stls_and_pop3s(inst):
    put(inst, M2)
    r = Raw(inst.ports["pop3"])
    assert r.line().startswith("+OK")
    tok = base64.b64encode(b"\0" + USER.encode() + b"\0" + inst.password.encode()).decode()
    r.send("AUTH PLAIN " + tok + "\r\n")
    assert r.line().startswith("+OK")
    r.send("STAT\r\n")
    assert r.line() == "+OK 1 %d" % len(M2)
    r.close()
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.stls(context=CTX)
    p.user(USER)
    p.pass_(inst.password)
    assert p.stat()[0] == 1
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", inst.ports["pop3s"], context=CTX, timeout=30)
    p.user(USER)
    p.pass_(inst.password)
    assert p.stat()[0] == 1
    p.quit()


def test_bad_password_and_bad_input(inst):
    r = Raw(inst.ports["pop3"])
    r.line()
    r.send("USER " + USER + "\r\nPASS nope\r\n")
    assert r.line() == "+OK"
    assert r.line().startswith("-ERR [AUTH]")
    for bad in ("RETR 1", "FOO", "LIST 1 2 3", "\x01\x02"):
        r.send(bad + "\r\n")
        assert r.line().startswith("-ERR")
    r.send("X" * 5000 + "\r\n")
    assert r.line().startswith("-ERR")
    assert r.closed()


def test_plaintext_refused_without_tls(make_instance):
    inst = start_instance(make_instance, {"pop3d_trusted_networks": "192.0.2.0/24"})
    from conftest import wait_port
    wait_port(inst.ports["pop3"])
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    assert "USER" not in p.capa()
    with pytest.raises(poplib.error_proto, match="disallowed"):
        p.user(USER)
    p.stls(context=CTX)
    p.user(USER)
    p.pass_(inst.password)
    p.quit()


def test_curl_pop3(inst):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    put(inst, M2)
    out = subprocess.run(["curl", "-s", "--max-time", "20", "-u",
                          USER + ":" + inst.password,
                          "pop3://127.0.0.1:%d/1" % inst.ports["pop3"]],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == M2
    out = subprocess.run(["curl", "-sk", "--max-time", "20", "-u",
                          USER + ":" + inst.password,
                          "pop3s://127.0.0.1:%d/" % inst.ports["pop3s"]],
                         capture_output=True, timeout=30, text=True)
    assert out.stdout.strip() == "1 %d" % len(M2)


def test_commands_pipelined_behind_pass(inst):
    """Commands in the same write as PASS cross the hand-over to the
    mailbox process: each gets one reply, in order."""
    put(inst, M1, M2)
    r = Raw(inst.ports["pop3"])
    assert r.line().startswith("+OK")
    r.send("USER %s\r\nPASS %s\r\nSTAT\r\nUIDL 2\r\nQUIT\r\n"
           % (USER, inst.password))
    got = [r.line(timeout=20) for _ in range(5)]
    assert [g.split(" ")[0] for g in got] == ["+OK"] * 5, got
    assert got[2].startswith("+OK 2 "), got
    assert got[3].startswith("+OK 2 "), got
    assert r.closed()
    r.close()
