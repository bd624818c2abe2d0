"""Hostile IMAP input: every case gets BAD or NO (or a BYE for a
non-synchronising literal over the limit) and the server keeps serving.
Also runs the conversation scripts in tests/imap-scripts/."""
import glob
import os

import pytest

from imap_helpers import Raw, SCRIPTS, run_script, start_instance

USER = "demo@example.test"


@pytest.fixture
def inst(make_instance):
    return start_instance(make_instance, {"imapd_literal_size_limit": "1024",
                                          "message_size_limit": "100000",
                                          "imapd_max_line_length": "2048"})


def raw_login(inst):
    r = Raw(inst.ports["imap"])
    r.line()
    assert r.cmd("l", 'LOGIN "%s" "%s"' % (USER, inst.password))[-1].startswith("l OK")
    return r


def alive(inst):
    r = raw_login(inst)
    assert r.cmd("n", "NOOP")[-1] == "n OK NOOP completed."
    r.close()


def test_bad_commands_get_bad(inst):
    r = raw_login(inst)
    cases = [
        "a1 FROBNICATE",
        "a2 FETCH",
        "a3 SELECT",
        "a4 FETCH 1:* (FLAGS)",                 # not selected
        "a5 LOGIN x y",                          # wrong state
        'a6 LIST "" "unterminated',
        "a7 STATUS INBOX (NOSUCHITEM)",
        "a8 " + "(" * 40 + ")" * 40,             # deep nesting (limit 16)
    ]
    for c in cases:
        out = r.cmd(c.split()[0], c.split(" ", 1)[1])
        assert out[-1].split()[1] == "BAD", (c, out)
    r.cmd("ap", "APPEND INBOX {16+}\r\nSubject: x\r\n\r\nx")
    r.cmd("s", "SELECT INBOX")
    for c in ("b0 FETCH 1 BODY[1.X]", "b01 FETCH 1 BODY[HEADER.FIELDS ()]",
              "b02 FETCH 1 BINARY[HEADER]", "b03 FETCH 1 BODY[0]",
              "b1 FETCH 0 FLAGS", "b2 FETCH 1:2 FLAGS", "b3 FETCH 1 (NOSUCH)",
              "b4 STORE 1 FLAGS (\\Bogus)", "b5 SEARCH NOSUCHKEY",
              "b6 UID FETCH 1:4294967296 FLAGS", "b7 FETCH 1 BODY[1.X]"):
        out = r.cmd(c.split()[0], c.split(" ", 1)[1])
        assert out[-1].split()[1] == "BAD", (c, out)
    out = r.cmd("b8", "SEARCH CHARSET KOI8-R ALL")
    assert "BADCHARSET" in out[-1]
    alive(inst)


def test_mailbox_names_traversal_and_utf7(inst):
    r = raw_login(inst)
    for name in ('"../evil"', '"a/b"', '".."', '"x..y"', '"&Jjo"', '"&AGE-"',
                 '"./Sent"', '"~root"'):
        out = r.cmd("c", "CREATE " + name)
        assert out[-1].startswith("c NO"), (name, out)
        out = r.cmd("s", "SELECT " + name)
        assert out[-1].split()[1] in ("NO", "BAD"), (name, out)
    assert not os.path.exists(os.path.join(inst.maildir(), "..", ".evil"))
    assert not os.path.exists(os.path.join(inst.dir, "mail", "evil"))
    out = r.cmd("c", 'CREATE "Entw&APw-rfe"')
    assert out[-1].startswith("c OK")
    out = r.cmd("l", 'LIST "" "Entw*"')
    assert out[0] == '* LIST (\\HasNoChildren) "." "Entw&APw-rfe"'
    alive(inst)


def test_literals_limits(inst):
    r = raw_login(inst)
    # synchronising literal over the limit: NO, no continuation, no data read
    r.send("a1 LOGIN {5000}\r\n")
    assert r.line().startswith("a1 NO [TOOBIG]")
    out = r.cmd("a2", "NOOP")
    assert out[-1].startswith("a2 OK")
    # APPEND literal within message_size_limit works, above is refused
    r.send("a3 APPEND INBOX {200000}\r\n")
    assert r.line().startswith("a3 NO [TOOBIG]")
    r.send("a4 APPEND INBOX {20}\r\n")
    assert r.line().startswith("+ ")
    r.send("Subject: x\r\n\r\n12345\r\n")
    assert r.until("a4")[-1].startswith("a4 OK [APPENDUID")
    # non-synchronising literal over the limit: BYE (the data cannot be skipped)
    r.send("a5 APPEND INBOX {200000+}\r\n")
    lines = []
    while True:
        try:
            lines.append(r.line())
        except (EOFError, ConnectionError):
            break
    assert any("TOOBIG" in l for l in lines) and any(l.startswith("* BYE") for l in lines)
    alive(inst)


def test_unterminated_literal_and_long_lines(inst):
    r = raw_login(inst)
    r.send("a1 LOGIN {10}\r\n")
    assert r.line() == "+ OK"
    r.send("abc")          # never completes; the session just waits
    r.close()
    r = raw_login(inst)
    r.send("a2 NOOP " + "x" * 5000 + "\r\n")
    out = r.line()
    assert "BAD" in out and "too long" in out
    assert r.cmd("a3", "NOOP")[-1].startswith("a3 OK")
    # a huge sequence set: parsed within the line limit, answered
    r.cmd("s", "SELECT INBOX")
    out = r.cmd("a4", "UID FETCH " + ",".join(str(i) for i in range(1, 400)) + " FLAGS")
    assert out[-1].startswith("a4 OK")
    out = r.cmd("a5", "UID FETCH 1:4294967295 FLAGS")
    assert out[-1].startswith("a5 OK")
    out = r.cmd("a6", "SEARCH 1:4294967295")
    assert out[-1].split()[1] in ("OK", "BAD")
    alive(inst)


def test_garbage_bytes(inst):
    r = Raw(inst.ports["imap"])
    r.line()
    r.send(b"\x00\xff\xfe garbage \x01\r\n")
    assert "BAD" in r.line()
    r.send(b"* NOOP\r\n")
    assert "BAD" in r.line()
    r.send(b"+ NOOP\r\n")
    assert "BAD" in r.line()
    try:
        r.send(b"".join(b"x%d BOGUS\r\n" % i for i in range(25)))
    except (BrokenPipeError, ConnectionResetError):
        pass                     # already closed: fine
    assert r.closed(10)          # too many bad commands
    alive(inst)


@pytest.mark.parametrize("script", sorted(glob.glob(os.path.join(SCRIPTS, "*.txt"))),
                         ids=lambda p: os.path.basename(p))
def test_conversation_script(inst, script):
    run_script(script, inst.ports["imap"], {"user": USER, "password": inst.password})
    alive(inst)
