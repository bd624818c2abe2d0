"""IMAP extensions beyond the base set: QRESYNC (RFC 7162: ENABLE,
VANISHED, SELECT (QRESYNC ...), UID FETCH (CHANGEDSINCE .. VANISHED))."""
import re

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


def append(r, n):
    for i in range(n):
        body = "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
        out = r.cmd("a%d" % i, "APPEND INBOX {%d+}\r\n%s" % (len(body), body))
        assert out[-1].startswith("a%d OK" % i), out


def code(out, name):
    for ln in out:
        m = re.search(r"\[%s (\d+)\]" % name, ln)
        if m:
            return int(m.group(1))
    raise AssertionError("no %s in %r" % (name, out))


def test_qresync_enable_and_capability(inst):
    r = raw_login(inst)
    out = r.cmd("c", "CAPABILITY")
    assert " QRESYNC" in out[0]
    out = r.cmd("e", "ENABLE QRESYNC")
    assert out[0] == "* ENABLED QRESYNC", out
    # not enabled in another session: SELECT (QRESYNC ...) is refused
    o = raw_login(inst)
    out = o.cmd("s", "SELECT INBOX (QRESYNC (1 1))")
    assert out[-1].startswith("s BAD"), out


def test_qresync_select_vanished_and_changed_flags(inst):
    r = raw_login(inst)
    append(r, 4)
    out = r.cmd("s", "SELECT INBOX (CONDSTORE)")
    uv, ms = code(out, "UIDVALIDITY"), code(out, "HIGHESTMODSEQ")
    # while the client is away: UID 1 expunged, UID 3 flagged
    r.cmd("st", "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.cmd("st2", "UID STORE 3 +FLAGS.SILENT (\\Flagged)")
    r.cmd("x", "EXPUNGE")
    r.cmd("lo", "LOGOUT")

    q = raw_login(inst)
    q.cmd("e", "ENABLE QRESYNC")
    out = q.cmd("s", "SELECT INBOX (QRESYNC (%d %d))" % (uv, ms))
    assert out[-1].startswith("s OK"), out
    assert "* VANISHED (EARLIER) 1" in out, out
    changed = [ln for ln in out if " FETCH (" in ln]
    assert len(changed) == 1 and "UID 3 " in changed[0] and \
        "\\Flagged" in changed[0] and "MODSEQ" in changed[0], out
    # with known UIDs limited to 2:4 nothing has vanished there
    q.cmd("u", "UNSELECT")
    out = q.cmd("s2", "SELECT INBOX (QRESYNC (%d %d 2:4))" % (uv, ms))
    assert not any("VANISHED" in ln for ln in out), out
    # a wrong UIDVALIDITY gives a plain SELECT
    q.cmd("u2", "UNSELECT")
    out = q.cmd("s3", "SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, ms))
    assert not any("VANISHED" in ln or " FETCH " in ln for ln in out), out


def test_qresync_expunge_is_reported_as_vanished(inst):
    r = raw_login(inst)
    append(r, 3)
    r.cmd("e", "ENABLE QRESYNC")
    r.cmd("s", "SELECT INBOX")
    r.cmd("st", "STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    out = r.cmd("x", "EXPUNGE")
    assert "* VANISHED 2:3" in out, out
    assert not any(ln.endswith("EXPUNGE") and ln.startswith("* ") for ln in out), out
    # another session's expunge arrives as VANISHED too
    o = raw_login(inst)
    o.cmd("s", "SELECT INBOX")
    o.cmd("st", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.cmd("x", "EXPUNGE")
    out = r.cmd("n", "NOOP")
    assert "* VANISHED 1" in out, out


def test_uid_fetch_changedsince_vanished(inst):
    r = raw_login(inst)
    append(r, 3)
    r.cmd("e", "ENABLE QRESYNC")
    out = r.cmd("s", "SELECT INBOX")
    ms = code(out, "HIGHESTMODSEQ")
    r.cmd("st", "UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    r.cmd("x", "EXPUNGE")
    out = r.cmd("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % ms)
    assert out[-1].startswith("f OK"), out
    assert "* VANISHED (EARLIER) 2" in out, out
    # VANISHED needs UID FETCH
    out = r.cmd("f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % ms)
    assert out[-1].startswith("f2 BAD"), out


def test_search_matches_rfc2047_decoded_headers(inst):
    r = raw_login(inst)
    msgs = [
        "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\nFrom: =?ISO-8859-1?Q?Ren=E9?= <r@example.org>\r\n\r\nx\r\n",
        "Subject: =?ISO-8859-1?Q?caf=E9_cr=E8me?=\r\n\r\ny\r\n",
        "Subject: plain ascii\r\n\r\nz\r\n",
    ]
    for i, m in enumerate(msgs):
        out = r.cmd("a%d" % i, "APPEND INBOX {%d+}\r\n%s" % (len(m), m))
        assert out[-1].startswith("a%d OK" % i), out
    r.cmd("s", "SELECT INBOX")

    def search(key, text):
        b = text.encode()
        r.send(b"q SEARCH CHARSET UTF-8 " + key.encode() + b" {%d+}\r\n" % len(b) + b + b"\r\n")
        out = r.until("q")
        assert out[-1].startswith("q OK"), out
        return out[0].split()[2:]
    assert search("SUBJECT", "Köln") == ["1"]
    assert search("SUBJECT", "grüße") == ["1"]   # ASCII letters fold
    assert search("FROM", "René") == ["1"]
    assert search("SUBJECT", "café crème") == ["2"]
    assert search("SUBJECT", "ascii") == ["3"]
    assert search("SUBJECT", "R3LDvM") == []     # the encoded form is not text


def test_utf8_accept_mailbox_names_and_append(inst):
    r = raw_login(inst)
    assert " UTF8=ACCEPT" in r.cmd("c", "CAPABILITY")[0]
    assert r.cmd("e", "ENABLE UTF8=ACCEPT")[0] == "* ENABLED UTF8=ACCEPT"
    out = r.cmd("c1", 'CREATE "Entwürfe"')
    assert out[-1].startswith("c1 OK"), out
    out = r.cmd("c2", 'CREATE "a&b"')
    assert out[-1].startswith("c2 OK"), out
    # stored as Maildir++ folders with modified UTF-7 names
    import os
    names = os.listdir(inst.maildir())
    assert ".Entw&APw-rfe" in names and ".a&-b" in names, names
    out = r.cmd("l", 'LIST "" "Entw*"')
    assert any(ln.endswith('"Entwürfe"') for ln in out), out
    out = r.cmd("st", 'STATUS "Entwürfe" (MESSAGES)')
    assert out[0] == '* STATUS "Entwürfe" (MESSAGES 0)', out
    msg = "Subject: Grüße\r\nFrom: jörg@example.org\r\n\r\nHällo\r\n".encode()
    r.send(b'a APPEND "Entw\xc3\xbcrfe" UTF8 (~{%d+}\r\n' % len(msg) + msg + b")\r\n")
    out = r.until("a")
    assert out[-1].startswith("a OK"), out
    out = r.cmd("s", 'SELECT "Entwürfe"')
    assert "* 1 EXISTS" in out, out
    out = r.cmd("l2", 'LIST "" "a*"')
    assert any(ln.endswith('"a&b"') for ln in out), out
    # a client without UTF8=ACCEPT sees modified UTF-7
    o = raw_login(inst)
    out = o.cmd("l", 'LIST "" "Entw*"')
    assert any(ln.endswith('"Entw&APw-rfe"') for ln in out), out
    out = o.cmd("a", 'APPEND INBOX UTF8 (~{3}\r\nx\r\n)')
    assert out[-1].startswith("a BAD") or out[-1].startswith("a NO"), out


def test_searchres_saved_result(inst):
    r = raw_login(inst)
    append(r, 5)
    assert " SEARCHRES" in r.cmd("c", "CAPABILITY")[0]
    r.cmd("s", "SELECT INBOX")
    r.cmd("st", "STORE 2,4 +FLAGS.SILENT (\\Flagged)")
    # SAVE alone: no untagged result
    out = r.cmd("q", "SEARCH RETURN (SAVE) FLAGGED")
    assert out == ["q OK Search completed."], out
    out = r.cmd("f", "FETCH $ (UID)")
    assert [ln.split()[1] for ln in out[:-1]] == ["2", "4"], out
    # "$" as a search key, combined with others
    out = r.cmd("q2", "UID SEARCH $ UID 3:*")
    assert out[0] == "* SEARCH 4", out
    # after an expunge "$" still names the same messages (by UID)
    r.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.cmd("x", "EXPUNGE")
    out = r.cmd("f2", "UID FETCH $ (FLAGS)")
    assert sorted(ln.split("UID ")[1].split()[0].rstrip(")") for ln in out[:-1]
                  if "FETCH" in ln) == ["2", "4"], out
    # MIN with SAVE saves only the first; STORE and COPY take "$"
    out = r.cmd("q3", "SEARCH RETURN (MIN SAVE) FLAGGED")
    assert out[0].endswith("MIN 1"), out
    assert r.cmd("cp", "COPY $ Trash")[-1].startswith("cp OK")
    out = r.cmd("s2", "STATUS Trash (MESSAGES)")
    assert "MESSAGES 1" in out[0], out
    # a new SELECT forgets the saved result
    r.cmd("s3", "SELECT INBOX")
    out = r.cmd("f3", "FETCH $ (UID)")
    assert out[-1].startswith("f3 OK") and len(out) == 1, out


class Deflated:
    """IMAP over COMPRESS=DEFLATE (raw deflate both ways)."""

    def __init__(self, raw):
        import zlib
        self.s = raw.s
        self.c = zlib.compressobj(wbits=-15)
        self.d = zlib.decompressobj(wbits=-15)
        self.zlib = zlib
        self.buf = raw.buf

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(self.c.compress(data) + self.c.flush(self.zlib.Z_SYNC_FLUSH))

    def fill(self, timeout=20):
        self.s.settimeout(timeout)
        d = self.s.recv(65536)
        if not d:
            raise EOFError("closed")
        self.buf += self.d.decompress(d)

    def until(self, tag):
        while True:
            if (b"\r\n" + tag.encode() + b" ") in b"\r\n" + self.buf:
                i = (b"\r\n" + self.buf).index(b"\r\n" + tag.encode() + b" ")
                end = self.buf.index(b"\r\n", i) + 2
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            self.fill()


def test_compress_deflate(inst):
    r = raw_login(inst)
    assert " COMPRESS=DEFLATE" in r.cmd("c", "CAPABILITY")[0]
    out = r.cmd("z", "COMPRESS DEFLATE")
    assert out == ["z OK DEFLATE active."], out
    z = Deflated(r)
    z.send("c CAPABILITY\r\n")
    out = z.until("c")
    assert b"c OK" in out and b"COMPRESS=DEFLATE" not in out, out
    z.send("z2 COMPRESS DEFLATE\r\n")
    assert b"z2 NO [COMPRESSIONACTIVE]" in z.until("z2")
    # a large message both ways (several deflate blocks, flow control)
    body = "".join("line %06d of a long message\r\n" % i for i in range(20000))
    msg = "Subject: big\r\n\r\n" + body
    z.send("a APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    assert b"a OK" in z.until("a")
    z.send("s SELECT INBOX\r\nf FETCH 1 BODY.PEEK[]\r\n")
    z.until("s")
    out = z.until("f")
    assert msg.encode() in out, len(out)
    # everything up to the last byte arrives before the close
    z.send("l LOGOUT\r\n")
    out = z.until("l")
    assert b"* BYE" in out and b"l OK" in out, out
