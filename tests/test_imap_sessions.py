"""IMAP sessions together: IDLE pushes (a file dropped into new/, a
message delivered over SMTP, another session's flag change and expunge),
two sessions on one folder, persistent UIDs across restarts, and the
per-user / per-IP connection limits."""
import imaplib
import os
import smtplib
import time

import pytest

from imap_helpers import Raw, start_instance

USER = "demo@example.test"


@pytest.fixture
def inst(make_instance):
    return start_instance(make_instance)


def raw_login(inst):
    r = Raw(inst.ports["imap"])
    r.line()
    out = r.cmd("l1", 'LOGIN "%s" "%s"' % (USER, inst.password))
    assert out[-1].startswith("l1 OK"), out
    return r


def login(inst):
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30)
    m.login(USER, inst.password)
    return m


def idle_until(r, pattern, timeout=5.0):
    """Read untagged lines during IDLE until one contains pattern."""
    end = time.time() + timeout
    seen = []
    while time.time() < end:
        try:
            ln = r.line(timeout=max(0.1, end - time.time()))
        except TimeoutError:
            break
        seen.append(ln)
        if pattern in ln:
            return seen
    raise AssertionError("no %r within %.0fs; saw %r" % (pattern, timeout, seen))


def test_idle_sees_file_dropped_into_new(inst):
    r = raw_login(inst)
    r.cmd("s1", "SELECT INBOX")
    r.send("i1 IDLE\r\n")
    assert r.line().startswith("+ ")
    d = inst.maildir()
    with open(os.path.join(d, "tmp", "drop1"), "w") as f:
        f.write("Subject: dropped\n\nhi\n")
    os.rename(os.path.join(d, "tmp", "drop1"), os.path.join(d, "new", "drop1"))
    lines = idle_until(r, "EXISTS")
    assert "* 1 EXISTS" in lines
    r.send("DONE\r\n")
    assert r.until("i1")[-1].startswith("i1 OK")
    out = r.cmd("f1", "FETCH 1 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert "UID 1" in out[0] and "\\Recent" in out[0] and "Subject: dropped" in out[0]


def test_idle_sees_smtp_delivery(inst):
    r = raw_login(inst)
    r.cmd("s1", "SELECT INBOX")
    r.send("i1 IDLE\r\n")
    assert r.line().startswith("+ ")
    t0 = time.time()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("someone@remote.test", [USER], b"Subject: via smtp\r\n\r\nbody\r\n")
    lines = idle_until(r, "EXISTS", timeout=10)
    assert "* 1 EXISTS" in lines
    assert time.time() - t0 < 10
    r.send("DONE\r\n")
    r.until("i1")


def test_two_sessions_flags_and_expunge(inst):
    m = login(inst)
    for i in range(3):
        m.append("INBOX", None, None, b"Subject: %d\r\n\r\nx\r\n" % i)
    m.logout()
    a = raw_login(inst)
    b = raw_login(inst)
    assert "* 3 EXISTS" in a.cmd("s", "SELECT INBOX")
    assert "* 3 EXISTS" in b.cmd("s", "SELECT INBOX")
    # b idles; a changes a flag: b is told with a FETCH
    b.send("i1 IDLE\r\n")
    assert b.line().startswith("+ ")
    a.cmd("st", "STORE 2 +FLAGS (\\Flagged)")
    lines = idle_until(b, "FETCH")
    assert any(l.startswith("* 2 FETCH") and "\\Flagged" in l for l in lines), lines
    # a expunges message 1: b gets EXPUNGE 1 while idling
    a.cmd("st2", "STORE 1 +FLAGS (\\Deleted)")
    out = a.cmd("ex", "EXPUNGE")
    assert "* 1 EXPUNGE" in out
    lines = idle_until(b, "EXPUNGE")
    assert "* 1 EXPUNGE" in lines
    b.send("DONE\r\n")
    b.until("i1")
    out = b.cmd("f", "FETCH 1:* (UID FLAGS)")
    assert len([l for l in out if "FETCH" in l]) == 2
    assert "UID 2" in out[0] and "\\Flagged" in out[0]
    # no EXPUNGE during FETCH/STORE/SEARCH: b learns only at NOOP
    a.cmd("st3", "STORE 1 +FLAGS (\\Deleted)")
    a.cmd("ex2", "EXPUNGE")
    out = b.cmd("f2", "FETCH 1:* (FLAGS)")
    assert not any("EXPUNGE" in l for l in out)
    out = b.cmd("n", "NOOP")
    assert "* 1 EXPUNGE" in out


def test_uids_persist_across_restart(inst):
    m = login(inst)
    m.append("INBOX", None, None, b"Subject: a\r\n\r\nx\r\n")
    m.append("INBOX", None, None, b"Subject: b\r\n\r\nx\r\n")
    m.select("INBOX")
    uv = m.untagged_responses["UIDVALIDITY"][0]
    m.store("1", "+FLAGS", "\\Deleted")
    m.expunge()
    m.logout()
    inst.stop()
    inst.start()
    from conftest import wait_port
    wait_port(inst.ports["imap"])
    m = login(inst)
    m.select("INBOX")
    assert m.untagged_responses["UIDVALIDITY"][0] == uv
    assert m.uid("SEARCH", "ALL")[1] == [b"2"]
    m.append("INBOX", None, None, b"Subject: c\r\n\r\nx\r\n")
    assert m.uid("SEARCH", "ALL")[1] == [b"2 3"]    # UID 1 never reused
    m.logout()


def test_condstore_modseq(inst):
    r = raw_login(inst)
    r.cmd("a", "APPEND INBOX {16+}\r\nSubject: m\r\n\r\nx")
    out = r.cmd("s", "SELECT INBOX (CONDSTORE)")
    hms = [l for l in out if "HIGHESTMODSEQ" in l]
    assert hms
    out = r.cmd("f", "FETCH 1 (MODSEQ FLAGS)")
    m1 = int(out[0].split("MODSEQ (")[1].split(")")[0])
    out = r.cmd("st", "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % m1)
    assert out[-1].startswith("st OK")
    m2 = int(out[0].split("MODSEQ (")[1].split(")")[0])
    assert m2 > m1
    out = r.cmd("st2", "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % m1)
    assert "MODIFIED 1" in out[-1]
    out = r.cmd("f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m1)
    assert any("FETCH" in l for l in out[:-1])
    out = r.cmd("f3", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m2)
    assert not any("FETCH" in l for l in out[:-1])
    out = r.cmd("se", "SEARCH MODSEQ %d" % m2)
    assert out[0].startswith("* SEARCH 1 (MODSEQ")


def test_per_user_and_per_ip_limits(make_instance):
    inst = start_instance(make_instance, {"imapd_user_connection_limit": "2",
                                          "imapd_client_connection_limit": "4"})
    a, b = raw_login(inst), raw_login(inst)
    c = Raw(inst.ports["imap"])
    c.line()
    out = c.cmd("l", 'LOGIN "%s" "%s"' % (USER, inst.password))
    assert out[-1].startswith("l NO [LIMIT]"), out
    # four connections from 127.0.0.1 are open (a, b, c, d); the fifth is refused
    d = Raw(inst.ports["imap"])
    assert d.line().startswith("* OK")
    e = Raw(inst.ports["imap"])
    assert e.line().startswith("* BYE")
    assert e.closed()
    for x in (a, b, c, d):
        x.close()
    # the closed sessions leave the post-login master's counts
    from conftest import wait_for

    def try_login():
        r = Raw(inst.ports["imap"])
        ok = r.line().startswith("* OK") and \
            r.cmd("l", 'LOGIN "%s" "%s"' % (USER, inst.password))[-1].startswith("l OK")
        r.close()
        return ok
    assert wait_for(try_login, 20, 0.2)


def test_auth_service_lockout_applies_to_imap_and_pop3(make_instance):
    import poplib
    inst = start_instance(make_instance, {"auth_failure_limit": "2"})
    from conftest import wait_port
    wait_port(inst.ports["pop3"])
    r = Raw(inst.ports["imap"])
    r.line()
    for tag in ("a1", "a2"):
        out = r.cmd(tag, 'LOGIN "%s" "wrong"' % USER)
        assert "AUTHENTICATIONFAILED" in out[-1], out
    r.close()
    # the auth service now refuses this client even with the right password,
    # over IMAP and over POP3 alike
    r = Raw(inst.ports["imap"])
    r.line()
    out = r.cmd("a3", 'LOGIN "%s" "%s"' % (USER, inst.password))
    assert out[-1].startswith("a3 NO"), out
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(USER)
    with pytest.raises(poplib.error_proto):
        p.pass_(inst.password)


def test_pop3_per_ip_limit(make_instance):
    inst = start_instance(make_instance, {"pop3d_client_connection_limit": "2"})
    from conftest import wait_port
    wait_port(inst.ports["pop3"])
    # the extra probe connection of wait_port is gone
    from conftest import wait_for
    assert wait_for(lambda: inst.log().count("disconnect before login") >= 5, 30)
    a, b = Raw(inst.ports["pop3"]), Raw(inst.ports["pop3"])
    assert a.line().startswith("+OK") and b.line().startswith("+OK")
    c = Raw(inst.ports["pop3"])
    assert c.line().startswith("-ERR")
    assert c.closed()
