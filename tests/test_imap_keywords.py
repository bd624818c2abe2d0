"""IMAP keywords beyond the 26 letters of Maildir file names: the first
26 keywords are letters in the file name, the rest are kept in the
folder's UID list.  STORE, FETCH FLAGS, SEARCH KEYWORD, PERMANENTFLAGS,
COPY and APPEND with more than 26 keywords, across a reconnect and a
restart; the per-user keyword limit and the keyword length limit."""
import imaplib
import re

import pytest

from conftest import wait_port
from imap_helpers import start_instance

USER = "demo@example.test"
MSG = b"Subject: kw\r\n\r\nbody\r\n"
KWS = ["kw%02d" % i for i in range(35)]


@pytest.fixture
def inst(make_instance):
    return start_instance(make_instance)


def login(inst):
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30)
    m.login(USER, inst.password)
    return m


def flags_of(m, uid):
    typ, data = m.uid("FETCH", str(uid), "(FLAGS)")
    assert typ == "OK", data
    # unsolicited FETCHes (flag updates from NOOP) may come first: pick
    # the response of this UID
    for d in data:
        text = (d if isinstance(d, bytes) else d[0]).decode()
        if re.search(r"\bUID %d\b" % uid, text):
            got = re.search(r"FLAGS \(([^)]*)\)", text)
            assert got, text
            return set(got.group(1).split())
    raise AssertionError("no FETCH for UID %d: %r" % (uid, data))


def check_state(m, expect):
    """expect: uid -> set of keywords (plus \\Seen on every message)."""
    for uid, kws in expect.items():
        assert flags_of(m, uid) == kws | {"\\Seen"}
    for kw in KWS:
        want = sorted(u for u, kws in expect.items() if kw in kws)
        typ, data = m.uid("SEARCH", "KEYWORD", kw)
        assert typ == "OK"
        assert sorted(int(x) for x in data[0].split()) == want, kw
        typ, data = m.uid("SEARCH", "UNKEYWORD", kw)
        assert sorted(int(x) for x in data[0].split()) == sorted(
            set(expect) - set(want)), kw


def test_more_than_26_keywords(inst):
    m = login(inst)
    for _ in range(3):
        m.append("INBOX", "(\\Seen)", None, MSG)
    m.select("INBOX")
    # 35 keywords on message 1, in one STORE
    typ, data = m.uid("STORE", "1", "+FLAGS", "(%s)" % " ".join(KWS))
    assert typ == "OK", data
    # message 2: only keywords beyond the 26th; message 3: a mix
    assert m.uid("STORE", "2", "+FLAGS", "(kw27 kw30 kw34)")[0] == "OK"
    assert m.uid("STORE", "3", "+FLAGS", "(kw00 kw25 kw26 kw33)")[0] == "OK"
    assert m.uid("STORE", "3", "-FLAGS", "(kw33 kw00)")[0] == "OK"
    expect = {1: set(KWS), 2: {"kw27", "kw30", "kw34"},
              3: {"kw25", "kw26"}}
    check_state(m, expect)
    # PERMANENTFLAGS (and FLAGS) list them all, \* still allowed
    m.select("INBOX")
    perm = m.untagged_responses["OK"]
    perm = [p.decode() for p in perm if b"PERMANENTFLAGS" in p][0]
    for kw in KWS:
        assert " %s" % kw in perm
    assert "\\*" in perm
    # a second session sees a change made only beyond the 26th keyword
    m2 = login(inst)
    m2.select("INBOX")
    assert m2.uid("STORE", "2", "-FLAGS", "(kw30)")[0] == "OK"
    expect[2] = {"kw27", "kw34"}
    m.noop()
    check_state(m, expect)
    m2.logout()
    # COPY and APPEND carry keywords beyond the 26th
    typ, data = m.uid("COPY", "1", "Trash")
    assert typ == "OK", data
    typ, data = m.append("INBOX", "(\\Seen kw31 kw32 kw05)", None, MSG)
    assert typ == "OK", data
    expect[4] = {"kw31", "kw32", "kw05"}
    m.noop()
    check_state(m, expect)
    m.logout()

    # after a reconnect
    m = login(inst)
    m.select("INBOX")
    check_state(m, expect)
    m.select("Trash")
    assert flags_of(m, 1) == set(KWS) | {"\\Seen"}
    m.logout()

    # after a restart
    inst.stop()
    inst.start()
    wait_port(inst.ports["imap"])
    m = login(inst)
    m.select("INBOX")
    check_state(m, expect)
    m.logout()


def test_keyword_limits(inst):
    m = login(inst)
    m.append("INBOX", None, None, MSG)
    m.select("INBOX")
    # too long
    typ, data = m.store("1", "+FLAGS", "(%s)" % ("x" * 101))
    assert typ == "NO" and b"too long" in data[0], data
    assert m.store("1", "+FLAGS", "(%s)" % ("y" * 100))[0] == "OK"
    # 1024 per user: 1 used, 1023 more fit, then NO with a clear message
    names = ["k%04d" % i for i in range(1023)]
    for i in range(0, len(names), 200):
        typ, data = m.store("1", "+FLAGS", "(%s)" % " ".join(names[i:i + 200]))
        assert typ == "OK", data
    typ, data = m.store("1", "+FLAGS", "(onemore)")
    assert typ == "NO", data
    assert b"Too many keywords" in data[0], data
    # known keywords still work, and everything is still there
    assert m.store("1", "-FLAGS", "(k0000 k1022)")[0] == "OK"
    flags = flags_of(m, 1)
    assert len(flags) == 1024 - 2
    assert "k0500" in flags and "k0000" not in flags
    typ, data = m.search(None, "KEYWORD", "k1000")
    assert data == [b"1"]
    # PERMANENTFLAGS no longer offers \*
    m.select("INBOX")
    perm = [p.decode() for p in m.untagged_responses["OK"]
            if b"PERMANENTFLAGS" in p][0]
    assert "\\*" not in perm
    m.logout()
