"""`tempest quarantine release` keeps the SMTP envelope's parameters:
RET and ENVID of MAIL FROM, BODY=8BITMIME and SMTPUTF8, and each
recipient's NOTIFY and ORCPT (RFC 3461).  Before, the release went
through `sendmail -i -f SENDER -- RCPTS` and lost them all: a sender
who asked NOTIFY=NEVER got a bounce after the release, ORCPT was gone.
Observed in the MAIL/RCPT lines of the relayed copy (a server offering
DSN and SMTPUTF8) and by the bounces after a failed delivery.  Rows of
earlier versions (no envelope column) are still released."""
import os
import smtplib
import sqlite3
import time

from conftest import wait_for
from outbound_util import SMTPServer
from test_spam_smtp import FILTER_SVC, HIGH, LEVELS
from test_outbound_smtp import dsn_reports

MAIL = "FROM:<demo@example.test> RET=HDRS ENVID=env+2Bid+3D1 SMTPUTF8 BODY=8BITMIME"


def make(make_instance, srv, name):
    conf = dict(LEVELS)
    conf.update({"smtp_tls_security_level": "none", "queue_run_delay": "300s",
                 "transport_maps": "texthash:$config_directory/transport"})
    inst = make_instance(name, extra=conf, extra_services=[FILTER_SVC])
    with open(os.path.join(inst.etc, "transport"), "w") as f:
        f.write(f"remote.test smtp:[127.0.0.1]:{srv.port}\n")
    return inst.start()


def quarantine(inst, mail, rcpts):
    """Send HIGH with these MAIL and RCPT arguments: its quarantine id."""
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        code, text = c.docmd("MAIL", mail)
        assert code == 250, text
        for r in rcpts:
            code, text = c.docmd("RCPT", r)
            assert code == 250, (r, text)
        code, text = c.data(HIGH.encode())
    assert code == 250 and b"quarantined as" in text, text + inst.log().encode()
    return text.decode().split("quarantined as ")[1].split()[0]


def test_release_keeps_the_envelope_parameters(make_instance):
    srv = SMTPServer(dsn=True, smtputf8=True)
    try:
        inst = make(make_instance, srv, "qenv")
        qid = quarantine(inst, MAIL, [
            "TO:<bob@remote.test> NOTIFY=NEVER ORCPT=rfc822;a@b",
            "TO:<carol@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx@d",
            "TO:<dave@remote.test>"])
        time.sleep(0.5)
        assert srv.commands == [], srv.commands
        # the store keeps them with the entry
        con = sqlite3.connect(os.path.join(inst.dir, "data", "spam.db"))
        env = con.execute("SELECT envelope FROM quarantine WHERE id = ?",
                          (qid,)).fetchone()[0]
        con.close()
        assert "TO:<bob@remote.test> NOTIFY=NEVER ORCPT=rfc822;a@b\n" in env, env
        assert "dave" not in env, env
        r = inst.cmd("quarantine", "release", qid)
        assert r.returncode == 0 and "released " + qid in r.stdout, r.stderr
        assert wait_for(lambda: len(srv.messages) == 1, 20), inst.log()
        mail = [c for c in srv.commands if c.upper().startswith("MAIL ")]
        rcpt = {c.split()[1]: c.split()[2:] for c in srv.commands
                if c.upper().startswith("RCPT ")}
        assert len(mail) == 1, srv.commands
        params = mail[0].split()[2:]
        for p in ("RET=HDRS", "ENVID=env+2Bid+3D1", "SMTPUTF8", "BODY=8BITMIME"):
            assert p in params, mail
        assert rcpt["TO:<bob@remote.test>"] == ["NOTIFY=NEVER", "ORCPT=rfc822;a@b"], rcpt
        assert rcpt["TO:<carol@remote.test>"] == \
            ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;c+2Bx@d"], rcpt
        assert rcpt["TO:<dave@remote.test>"] == ["ORCPT=rfc822;dave@remote.test"] or \
            rcpt["TO:<dave@remote.test>"] == [], rcpt
    finally:
        srv.stop()


def test_release_then_failure_bounces_only_as_asked(make_instance):
    """bob asked NOTIFY=NEVER, carol nothing: both refused after the
    release, the sender gets one report, for carol."""
    srv = SMTPServer(dsn=True, rcpt_replies=["550 5.1.1 no such user"] * 2)
    try:
        inst = make(make_instance, srv, "qnever")
        qid = quarantine(inst, "FROM:<demo@example.test>", [
            "TO:<bob@remote.test> NOTIFY=NEVER", "TO:<carol@remote.test>"])
        r = inst.cmd("quarantine", "release", qid)
        assert r.returncode == 0, r.stderr
        reps = dsn_reports(inst, 1)
        assert len(reps) == 1, inst.log()
        assert wait_for(lambda: inst.log().count("status=bounced") == 2, 10), inst.log()
        time.sleep(0.5)
        assert len(inst.messages()) == 1, inst.log()
        finals = ["".join(p["Final-Recipient"].split())
                  for p in reps[0][1].get_payload()[1:]]
        assert finals == ["rfc822;carol@remote.test"], finals
    finally:
        srv.stop()


def test_row_of_an_earlier_version_is_released(make_instance):
    """A database made before the envelope column: opened, it gains the
    column, and its rows are released as before (no parameters)."""
    srv = SMTPServer(dsn=True)
    try:
        inst = make(make_instance, srv, "qold")
        path = os.path.join(inst.dir, "data", "spam.db")
        assert inst.cmd("quarantine", "list").returncode == 0
        con = sqlite3.connect(path)
        con.execute("DROP TABLE quarantine")
        con.execute("CREATE TABLE quarantine (id TEXT PRIMARY KEY, created INTEGER NOT NULL,"
                    " sender TEXT NOT NULL, recipients TEXT NOT NULL, subject TEXT NOT NULL,"
                    " score REAL NOT NULL, tests TEXT NOT NULL, message BLOB NOT NULL)")
        con.execute("INSERT INTO quarantine VALUES ('old1', 1, 'demo@example.test',"
                    " 'bob@remote.test\n', 'old', 30, 'X=1', ?)",
                    (b"From: demo@example.test\nSubject: old\n\nold row\n",))
        con.commit()
        con.close()
        r = inst.cmd("quarantine", "release", "old1")
        assert r.returncode == 0 and "released old1" in r.stdout, r.stderr
        assert wait_for(lambda: len(srv.messages) == 1, 20), inst.log()
        mail = [c for c in srv.commands if c.upper().startswith("MAIL ")]
        assert mail == ["MAIL FROM:<demo@example.test> SIZE=%d" % len(srv.messages[0]["data"])] \
            or "RET=" not in mail[0], mail
        con = sqlite3.connect(path)
        cols = [c[1] for c in con.execute("PRAGMA table_info(quarantine)")]
        con.close()
        assert "envelope" in cols, cols
    finally:
        srv.stop()
