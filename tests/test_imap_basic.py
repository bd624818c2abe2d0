"""IMAP end to end with Python's imaplib: login, folders, APPEND, FETCH,
STORE, SEARCH, COPY/MOVE, EXPUNGE, STATUS, TLS (STARTTLS and IMAPS) and
the plaintext-authentication policy."""
import email
import imaplib
import os
import re
import smtplib
import ssl
import time

import pytest

from imap_helpers import Raw, bodystructure_shape, parse_sexp, start_instance

USER = "demo@example.test"
CTX = ssl._create_unverified_context()


@pytest.fixture
def imap(make_instance):
    return start_instance(make_instance)


def login(inst):
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30)
    m.login(USER, inst.password)
    return m


MSG = (b"From: Alice <alice@example.org>\r\nTo: demo@example.test\r\n"
       b"Subject: greetings\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
       b"Message-ID: <m1@example.org>\r\n\r\nHello there.\r\nSecond line.\r\n")


def test_capability_and_login(imap):
    m = imaplib.IMAP4("127.0.0.1", imap.ports["imap"], timeout=30)
    assert "STARTTLS" in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        m.login(USER, "wrong password")
    typ, data = m.login(USER, imap.password)
    assert typ == "OK"
    typ, data = m.capability()
    caps = data[0].decode().split()
    for c in ("IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE",
              "SPECIAL-USE", "LIST-STATUS", "ESEARCH", "LITERAL+", "NAMESPACE"):
        assert c in caps
    typ, data = m.namespace()
    assert data[0] == b'(("" ".")) NIL NIL'
    m.logout()


def test_special_use_folders_for_new_user(imap):
    m = login(imap)
    typ, data = m.list()
    lines = [d.decode() for d in data]
    for name, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"),
                       ("Trash", "\\Trash"), ("Junk", "\\Junk")):
        assert any(attr in l and l.endswith('"%s"' % name) for l in lines), lines
    typ, data = m.lsub()
    assert any(l.endswith(b'"Sent"') for l in data)
    m.logout()


def test_append_fetch_store_search(imap):
    m = login(imap)
    typ, data = m.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(1057049557), MSG)
    assert typ == "OK"
    mo = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    assert mo and mo.group(2) == b"1"
    uidvalidity = int(mo.group(1))
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    assert int(m.untagged_responses["UIDVALIDITY"][0]) == uidvalidity
    typ, data = m.fetch("1", "(FLAGS RFC822.SIZE INTERNALDATE UID ENVELOPE BODY.PEEK[])")
    meta = data[0][0].decode()
    assert "FLAGS (\\Seen)" in meta
    assert "RFC822.SIZE %d" % len(MSG) in meta
    assert 'INTERNALDATE "01-Jul-2003 08:52:37 +0000"' in meta
    assert '"greetings"' in meta and '(("Alice" NIL "alice" "example.org"))' in meta
    assert data[0][1] == MSG
    # partial fetch and header fields
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.5>)")
    assert data[0][1] == b"Subject: greetings\r\n\r\n"
    assert data[1][1] == b"Hello"
    typ, data = m.store("1", "+FLAGS", "(\\Flagged $Work)")
    assert b"\\Flagged" in data[0] and b"$Work" in data[0]
    assert m.search(None, "FLAGGED")[1] == [b"1"]
    assert m.search(None, "KEYWORD", "$Work")[1] == [b"1"]
    assert m.search(None, "UNFLAGGED")[1] == [b""]
    assert m.search(None, 'FROM "alice" SUBJECT greet')[1] == [b"1"]
    assert m.search(None, 'BODY "second line"')[1] == [b"1"]
    assert m.search(None, "SENTON 1-Jul-2003")[1] == [b"1"]
    assert m.search("UTF-8", "TEXT", "nothing-here")[1] == [b""]
    typ, data = m.uid("SEARCH", "RETURN (MIN MAX COUNT)", "ALL")
    assert typ == "OK"
    esearch = m.untagged_responses.get("ESEARCH") or data
    assert any(b"COUNT 1" in (e or b"") for e in esearch)
    typ, data = m.store("1", "-FLAGS.SILENT", "(\\Flagged)")
    assert typ == "OK"
    assert m.search(None, "FLAGGED")[1] == [b""]
    # persisted in the file name
    assert any(p.endswith(":2,S") or p.endswith(":2,Sa") for p in imap.messages())
    m.logout()


def test_copy_move_expunge_uidplus(imap):
    m = login(imap)
    for i in range(3):
        m.append("INBOX", None, None, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
    m.select("INBOX")
    typ, data = m._simple_command("UID", "COPY", "1:2", "Trash")
    assert typ == "OK" and b"COPYUID" in data[0]
    assert re.search(rb"COPYUID \d+ 1:2 1:2", data[0]), data
    typ, data = m.uid("MOVE", "3", "Junk")
    assert typ == "OK"
    assert m.select("INBOX")[1] == [b"2"]
    assert m.select("Junk")[1] == [b"1"]
    assert m.select("Trash")[1] == [b"2"]
    m.store("1", "+FLAGS", "\\Deleted")
    typ, data = m.expunge()
    assert data == [b"1"]
    assert m.status("Trash", "(MESSAGES UIDNEXT)")[1] == [b'"Trash" (MESSAGES 1 UIDNEXT 3)']
    # UID EXPUNGE only removes the named \Deleted messages
    m.select("INBOX")
    m.store("1:2", "+FLAGS", "\\Deleted")
    typ, data = m.uid("EXPUNGE", "2")
    assert typ == "OK"
    assert m.select("INBOX")[1] == [b"1"]
    m.logout()


def test_folders_create_rename_delete_subscribe(imap):
    m = login(imap)
    assert m.create("Projects")[0] == "OK"
    assert m.create("Projects.2024")[0] == "OK"
    assert m.create("Projects")[0] == "NO"
    assert m.rename("Projects", "Work")[0] == "OK"
    names = [d.decode() for d in m.list()[1]]
    assert any(n.endswith('"Work.2024"') for n in names), names
    assert any('\\HasChildren' in n and n.endswith('"Work"') for n in names)
    assert m.subscribe("Work")[0] == "OK"
    assert any(l.endswith(b'"Work"') for l in m.lsub()[1])
    assert m.delete("Work")[0] == "NO"      # has children
    assert m.delete("Work.2024")[0] == "OK"
    assert m.delete("Work")[0] == "OK"
    assert m.delete("INBOX")[0] == "NO"
    # a level without a folder of its own is listed as \Noselect
    assert m.create("Lists.tempest")[0] == "OK"
    top = [d.decode() for d in m.list('""', "%")[1]]
    assert '(\\Noselect \\HasChildren) "." "Lists"' in top, top
    assert not any(t.endswith('"Lists.tempest"') for t in top)
    assert m.select("Work")[0] == "NO"
    # LIST-EXTENDED and LIST-STATUS
    typ, data = m._simple_command("LIST", '(SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES))')
    typ, data = m._untagged_response(typ, data, "LIST")
    assert all(b"\\Sent" in d or b"\\Drafts" in d or b"\\Trash" in d or b"\\Junk" in d
               for d in data)
    assert "STATUS" in m.untagged_responses
    m.logout()


def test_rename_inbox_moves_messages(imap):
    """RENAME INBOX moves every message to the new folder and leaves an
    empty INBOX behind (RFC 9051 6.3.6); a second session that has INBOX
    selected sees the messages expunged; new mail still lands in INBOX."""
    m = login(imap)
    for i in range(3):
        assert m.append("INBOX", "(\\Seen)" if i == 0 else None, None,
                        MSG.replace(b"<m1@", b"<r%d@" % i))[0] == "OK"
    other = login(imap)
    assert other.select("INBOX")[1] == [b"3"]
    assert m.rename("INBOX", "Old")[0] == "OK"
    assert m.rename("INBOX", "Old")[0] == "NO"        # target exists
    assert m.select("Old")[1] == [b"3"]
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    ids = sorted(re.findall(rb"<r\d@", b"".join(d[1] for d in data if isinstance(d, tuple))))
    assert ids == [b"<r0@", b"<r1@", b"<r2@"]
    assert sum(b"\\Seen" in d[0] for d in data if isinstance(d, tuple)) == 1
    assert m.select("INBOX")[1] == [b"0"]
    typ, data = other.noop()
    assert len(other.untagged_responses.get("EXPUNGE", [])) == 3, other.untagged_responses
    with smtplib.SMTP("127.0.0.1", imap.smtp_port, timeout=30) as s:
        s.sendmail("someone@remote.test", [USER], b"Subject: after\r\n\r\nnew\r\n")
    imap.wait_messages(1)
    assert m.select("INBOX")[1][-1] == b"1"
    other.logout()
    m.logout()


def test_bodystructure_matches_python_email(imap):
    inner = (b"From: x@y.z\r\nSubject: inner\r\nContent-Type: multipart/alternative;"
             b" boundary=in\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
             b"--in\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--in--\r\n")
    msg = (b"From: a@b.c\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--out\r\n"
           b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--out\r\n"
           b"Content-Type: application/octet-stream; name=x.bin\r\n"
           b"Content-Transfer-Encoding: base64\r\n"
           b"Content-Disposition: attachment; filename=x.bin\r\n\r\nAAECAw==\r\n--out--\r\n")
    m = login(imap)
    m.append("INBOX", None, None, msg)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODYSTRUCTURE)")
    bs = data[0].decode()
    # the tree as Python's email package sees it
    py = email.message_from_bytes(msg)

    def shape(part):
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            return [shape(p) for p in part.get_payload()] + [part.get_content_subtype()]
        if part.get_content_type() == "message/rfc822":
            return ("message", "rfc822", shape(part.get_payload()[0]))
        return (part.get_content_maintype(), part.get_content_subtype())

    expect = shape(py)
    body = bs[bs.index("BODYSTRUCTURE ") + 14:]
    assert bodystructure_shape(parse_sexp(body)) == expect
    # sections by part number
    typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.2] BINARY.PEEK[3] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])")
    parts = [d[1] for d in data if isinstance(d, tuple)]
    assert parts[0] == b"hello"
    assert parts[1] == b"<p>html</p>"
    assert parts[2] == b"\x00\x01\x02\x03"
    assert parts[3] == b"Subject: inner\r\n\r\n"
    m.logout()


def test_imaps_and_starttls(imap):
    m = imaplib.IMAP4_SSL("127.0.0.1", imap.ports["imaps"], ssl_context=CTX, timeout=30)
    assert "STARTTLS" not in m.capabilities
    m.login(USER, imap.password)
    m.logout()
    m = imaplib.IMAP4("127.0.0.1", imap.ports["imap"], timeout=30)
    m.starttls(ssl_context=CTX)
    assert "STARTTLS" not in m.capabilities
    m.login(USER, imap.password)
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_plaintext_refused_outside_trusted_networks(make_instance):
    inst = start_instance(make_instance, {"imapd_trusted_networks": "192.0.2.0/24"})
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30)
    assert "LOGINDISABLED" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|disallowed"):
        m.login(USER, inst.password)
    m.starttls(ssl_context=CTX)
    assert "AUTH=PLAIN" in m.capabilities
    assert m.login(USER, inst.password)[0] == "OK"
    m.logout()
    # AUTHENTICATE PLAIN is refused too
    r = Raw(inst.ports["imap"])
    r.line()
    out = r.cmd("a1", "AUTHENTICATE PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AHg=")
    assert "PRIVACYREQUIRED" in out[-1]


def test_authenticate_plain_sasl_ir(imap):
    import base64
    r = Raw(imap.ports["imap"])
    r.line()
    tok = base64.b64encode(b"\0" + USER.encode() + b"\0" + imap.password.encode()).decode()
    out = r.cmd("a1", "AUTHENTICATE PLAIN " + tok)
    assert out[-1].startswith("a1 OK")
    r.close()
    r = Raw(imap.ports["imap"])
    r.line()
    r.send("a2 AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send(tok + "\r\n")
    assert r.until("a2")[-1].startswith("a2 OK")
    r.close()


def test_curl_imap_and_imaps(imap):
    import shutil
    import subprocess
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    m = login(imap)
    m.append("INBOX", None, None, MSG)
    m.logout()
    for url in ("imap://127.0.0.1:%d/INBOX;UID=1" % imap.ports["imap"],
                "imaps://127.0.0.1:%d/INBOX;UID=1" % imap.ports["imaps"]):
        out = subprocess.run(["curl", "-sk", "--max-time", "20", "-u",
                              USER + ":" + imap.password, url],
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.replace(b"\r\n", b"\n") == MSG.replace(b"\r\n", b"\n")
    out = subprocess.run(["curl", "-sk", "--max-time", "20", "-u",
                          USER + ":" + imap.password,
                          "imap://127.0.0.1:%d/" % imap.ports["imap"]],
                         capture_output=True, timeout=30, text=True)
    assert "Sent" in out.stdout and "INBOX" in out.stdout


def test_commands_pipelined_behind_login(imap):
    """Commands sent in the same write as LOGIN are read by the login
    process, then carried (hex-encoded) to the post-login process with
    the connection: each gets its reply, in order, once."""
    r = Raw(imap.ports["imap"])
    assert r.line().startswith("* OK")
    r.send('a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\nc NOOP\r\nd LOGOUT\r\n'
           % (USER, imap.password))
    out = r.until("d", timeout=20)
    tagged = [ln.split(" ", 2)[:2] for ln in out if ln[:2] in ("a ", "b ", "c ", "d ")]
    assert tagged == [["a", "OK"], ["b", "OK"], ["c", "OK"], ["d", "OK"]], out
    assert any(ln.startswith("* BYE") for ln in out), out
    assert r.closed()
    r.close()
