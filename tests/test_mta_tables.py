"""Lookup tables under chroot, and tables that cannot be read.

The instance chroots every service Debian's stock Postfix master.cf
chroots (smtpd on all three listeners, pickup, qmgr, smtp) to the queue
directory.  The tables are opened before the chroot; a chrooted process
that sees a table change restarts between sessions ("table X has changed
-- restarting") so the fresh process reads it again outside the chroot.
A table that cannot be read is a temporary error: 451 4.3.0 at RCPT, and
a queued message is deferred (never bounced) until the table is back.
"""
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

import chroot_util
from chroot_util import process_roots
from conftest import TEMPEST, wait_for

CHROOTED = ("smtpd", "pickup", "qmgr", "smtp")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="chroot(2) needs root")


def chroot_services(text, commands=CHROOTED):
    """Set the chroot column (5th) to y for the given commands."""
    return chroot_util.chroot_services(text, commands)


def start_chrooted(make_instance, aliases=""):
    inst = make_instance()
    inst.edit_master_cf(chroot_services)
    with open(os.path.join(inst.etc, "master.cf")) as f:
        cf = f.read()
    assert len(re.findall(r"^\S+\s+inet\s+n\s+-\s+y\s.*smtpd$", cf,
                          re.M)) == 3, cf
    if aliases:
        with open(os.path.join(inst.etc, "aliases"), "a") as f:
            f.write(aliases)
    inst.start()
    check_chrooted(inst)
    return inst


def check_chrooted(inst):
    """Every process of the chrooted roles has the queue as its root (a
    process just started by master may not have got there yet)."""
    qdir = os.path.realpath(os.path.join(inst.dir, "queue"))

    for role in CHROOTED:
        assert wait_for(lambda: process_roots(inst, role) == {qdir}, 20), \
            (role, process_roots(inst, role))


def assert_no_crash(log):
    """No daemon died: restarts for a changed table are clean exits."""
    assert "fatal" not in log and "panic" not in log
    assert not re.search(r"process \S+ pid \d+ (exit status|killed by)",
                         log), log[-3000:]


def rcpt_reply(inst, rcpt):
    """(code, text) of RCPT TO in a fresh session from a trusted client."""
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("a@remote.test")
        code, text = s.rcpt(rcpt)
        # whatever the answer, the session goes on
        assert s.noop()[0] == 250
        return code, text.decode()


def send(inst, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("a@remote.test", [rcpt],
                   b"Subject: %s\r\n\r\nbody\r\n" % subject.encode())


def subjects(paths):
    out = set()
    for p in paths:
        with open(p, "rb") as f:
            m = re.search(rb"^Subject: (.*)$", f.read(), re.M)
            out.add(m.group(1).strip().decode() if m else None)
    return out


def replace_file(path, text):
    """Write a table the way editors do: a new file renamed over it."""
    with open(path + ".new", "w") as f:
        f.write(text)
    shutil.copymode(path, path + ".new")
    st = os.stat(path)
    os.chown(path + ".new", st.st_uid, st.st_gid)
    os.replace(path + ".new", path)


def test_chrooted_services_deliver_and_see_table_changes(make_instance):
    inst = start_chrooted(make_instance)

    # SMTP to a virtual user, a virtual alias, and an unknown user
    assert rcpt_reply(inst, "demo@example.test")[0] == 250
    code, text = rcpt_reply(inst, "nobody@example.test")
    assert code == 550 and text.startswith("5.1.1"), (code, text)
    send(inst, "demo@example.test", "direct")
    send(inst, "postmaster@example.test", "via alias")
    # sendmail -> maildrop/ -> chrooted pickup -> chrooted qmgr
    p = subprocess.run([TEMPEST, "-c", inst.etc, "sendmail", "-f",
                        "cron@example.test", "demo@example.test"],
                       input=b"Subject: picked up\n\nfrom the maildrop\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert len(inst.wait_messages(3, timeout=30)) == 3
    assert subjects(inst.messages()) == {"direct", "via alias", "picked up"}

    # a new user, added to the running system without reload: the
    # chrooted smtpd restarts and the fresh process knows the user
    users = os.path.join(inst.etc, "users")
    with open(users) as f:
        line = [l for l in f if l.startswith("demo@")][0]
    with open(users, "a") as f:           # edited in place
        f.write(line.replace("demo", "new"))
    assert wait_for(lambda: rcpt_reply(inst, "new@example.test")[0] == 250,
                    30), rcpt_reply(inst, "new@example.test")
    assert re.search(r"table passwd-file:\S*/etc/users has changed -- "
                     r"restarting", inst.log())
    send(inst, "new@example.test", "for the new user")
    assert subjects(inst.wait_messages(1, timeout=30, user="new")) == \
        {"for the new user"}

    # replaced by rename (an editor, a provisioning script): same
    replace_file(users, open(users).read() + line.replace("demo", "third"))
    assert wait_for(lambda: rcpt_reply(inst, "third@example.test")[0] == 250,
                    30)
    assert rcpt_reply(inst, "nobody@example.test")[0] == 550
    assert wait_for(inst.queue_empty, 30)
    # every service still chrooted after the restarts
    check_chrooted(inst)
    # qmgr does not hold the user tables: no restart (and no deliveries
    # left to a successor) when a user is added
    assert not re.search(r"qmgr\[\d+\]: table passwd-file", inst.log())
    log = inst.log()
    assert_no_crash(log)
    assert "status=deferred" not in log and "status=bounced" not in log


def test_unavailable_tables_are_temporary_errors(make_instance):
    inst = start_chrooted(make_instance,
                          aliases="team: demo@example.test\n")
    users = os.path.join(inst.etc, "users")
    aliases = os.path.join(inst.etc, "aliases")
    assert rcpt_reply(inst, "demo@example.test")[0] == 250

    # virtual_mailbox_maps replaced by a directory: 451 4.3.0 at RCPT,
    # not "User unknown"; the session goes on and smtpd keeps serving
    os.rename(users, users + ".saved")
    os.mkdir(users)
    assert wait_for(lambda: rcpt_reply(inst, "demo@example.test")[0] == 451,
                    30)
    code, text = rcpt_reply(inst, "demo@example.test")
    assert (code, text) == (451, "4.3.0 <demo@example.test>: Temporary "
                            "lookup failure"), (code, text)
    # the log lines may reach the log file after the reply: wait for them
    assert wait_for(lambda: re.search(
        r"table passwd-file:\S*/etc/users is unavailable: "
        r"read \S*/etc/users: Is a directory", inst.log()) and
        "NOQUEUE: reject: RCPT from" in inst.log(), 20), inst.log()[-3000:]
    assert inst.pids("smtpd")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        code, text = s.verify("demo@example.test")
        assert code == 451 and text.startswith(b"4.3.0"), (code, text)

    # alias_maps gone while mail for an alias is submitted: the local
    # agent defers it (never a bounce) ...
    os.rename(aliases, aliases + ".saved")
    # a process that reads its tables in place (local) checks a table it
    # found usable at most once a second (doc/tables.md): give it that
    time.sleep(1.1)
    p = subprocess.run([TEMPEST, "-c", inst.etc, "sendmail", "-f",
                        "cron@example.test", "team@localhost"],
                       input=b"Subject: to the team\n\nhello\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: re.search(r"to=<team@localhost>.*dsn=4\.3\.0, "
                                      r"status=deferred \(alias_maps", inst.log()), 30), \
        inst.log()[-3000:]
    deferred = os.path.join(inst.dir, "queue", "deferred")
    assert wait_for(lambda: os.listdir(deferred), 20)
    assert "status=bounced" not in inst.log()

    # ... and delivers it once the table is back and the queue flushed
    os.rename(aliases + ".saved", aliases)
    os.rmdir(users)
    os.rename(users + ".saved", users)
    r = inst.cmd("flush")
    assert r.returncode == 0, r.stderr
    msgs = inst.wait_messages(1, timeout=30)
    assert subjects(msgs) == {"to the team"}
    # the copy can reach the Maildir before qmgr logs the results
    assert wait_for(lambda: re.search(
        r"to=<demo@example.test>, orig_to=<team@localhost>.*"
        r"status=sent|to=<team@localhost>.*status=sent", inst.log()), 20), \
        inst.log()[-3000:]
    # smtpd: the table is back for a fresh process
    assert wait_for(lambda: rcpt_reply(inst, "demo@example.test")[0] == 250,
                    30)
    assert wait_for(inst.queue_empty, 30)
    log = inst.log()
    assert "status=bounced" not in log
    assert_no_crash(log)


def test_chrooted_smtp_client_relays(make_instance):
    """smtp chrooted: the queue file qmgr names (outside the chroot) is
    found under the new root, the message leaves through relayhost."""
    from outbound_util import SMTPServer
    sink = SMTPServer()
    try:
        inst = make_instance(extra={
            "relayhost": f"[127.0.0.1]:{sink.port}",
            "smtp_tls_security_level": "may"})
        inst.edit_master_cf(chroot_services)
        inst.start()
        check_chrooted(inst)
        send(inst, "bob@remote.test", "relayed from a chroot")
        assert wait_for(lambda: sink.messages, 30), inst.log()[-3000:]
        assert wait_for(inst.queue_empty, 30)
        log = inst.log()
        assert re.search(r"to=<bob@remote.test>, relay=smtp, .*status=sent "
                         r"\(delivered via 127\.0\.0\.1", log), log
        assert sink.messages[0]["to"] == ["bob@remote.test"]
        assert b"Subject: relayed from a chroot" in sink.messages[0]["data"]
        assert_no_crash(log)
    finally:
        sink.stop()


def test_unavailable_alias_table_keeps_maildrop_mail(make_instance):
    """virtual_alias_maps unreadable while pickup's cleanup expands the
    recipients: the maildrop file stays (4.3.0, "message not accepted,
    try again later"), nothing bounces, and it is delivered once the
    table is back."""
    inst = start_chrooted(make_instance)
    virtual = os.path.join(inst.etc, "virtual")
    os.rename(virtual, virtual + ".saved")

    def sendmail(subject):
        p = subprocess.run([TEMPEST, "-c", inst.etc, "sendmail", "-f",
                            "cron@example.test", "postmaster@example.test"],
                           input=b"Subject: %s\n\nhello\n" % subject.encode(),
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
    sendmail("while broken")
    assert wait_for(lambda: re.search(
        r"virtual_alias_maps map lookup problem for postmaster@example.test "
        r"-- message not accepted, try again later", inst.log()), 30), \
        inst.log()[-3000:]
    maildrop = os.path.join(inst.dir, "queue", "maildrop")
    assert len(os.listdir(maildrop)) == 1
    assert inst.messages() == []

    os.rename(virtual + ".saved", virtual)
    sendmail("after the fix")             # wakes pickup
    msgs = inst.wait_messages(2, timeout=30)
    assert subjects(msgs) == {"while broken", "after the fix"}
    assert wait_for(inst.queue_empty, 30)
    log = inst.log()
    assert "status=bounced" not in log
    assert_no_crash(log)


def test_chrooted_smtpd_system_users_and_compiled_aliases(make_instance):
    """unix:passwd.byname and a hash: table compiled by newaliases
    (SQLite .db) in a chrooted smtpd: the users are copied and the
    database opened before the chroot; a recompiled database restarts
    the process."""
    inst = make_instance()
    with open(os.path.join(inst.etc, "aliases"), "a") as f:
        f.write("team: demo@example.test\n")
    r = inst.cmd("newaliases")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(inst.etc, "aliases.db"))
    inst.edit_master_cf(chroot_services)
    inst.start()
    check_chrooted(inst)
    # local_recipient_maps = proxy:unix:passwd.byname $alias_maps
    assert rcpt_reply(inst, "root@localhost")[0] == 250
    assert rcpt_reply(inst, "team@localhost")[0] == 250
    code, text = rcpt_reply(inst, "nosuchuser@localhost")
    assert code == 550 and text.startswith("5.1.1"), (code, text)
    assert rcpt_reply(inst, "crew@localhost")[0] == 550
    # the compiled database is what the chrooted smtpd reads: open
    db = os.path.realpath(os.path.join(inst.etc, "aliases.db"))

    def open_files(pid):
        out = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
        except OSError:
            pass
        return out
    assert all(db in open_files(pid) for pid in inst.pids("smtpd")), \
        [open_files(pid) for pid in inst.pids("smtpd")]

    with open(os.path.join(inst.etc, "aliases"), "a") as f:
        f.write("crew: demo@example.test\n")
    r = inst.cmd("newaliases")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: rcpt_reply(inst, "crew@localhost")[0] == 250, 30)
    assert re.search(r"table hash:\S*/etc/aliases has changed -- restarting",
                     inst.log())
    send(inst, "crew@localhost", "to the crew")
    assert subjects(inst.wait_messages(1, timeout=30)) == {"to the crew"}
    log = inst.log()
    assert_no_crash(log)
    assert "status=bounced" not in log


@pytest.mark.parametrize("chrooted", [False, True], ids=["in-place", "chroot"])
def test_unavailable_transport_table_defers(make_instance, chrooted):
    """qmgr's transport_maps missing: mail to a remote domain is deferred
    with 4.3.0 (not bounced, not sent by the default route); once the
    table exists, a flush delivers it where the table says.  A chrooted
    qmgr that started while the table was missing restarts after a failed
    lookup, so the flush is repeated until a fresh qmgr has the table."""
    import json
    from outbound_util import SMTPServer
    sink = SMTPServer()
    try:
        inst = make_instance(extra={
            "transport_maps": "texthash:$config_directory/transport",
            "smtp_tls_security_level": "none"})
        if chrooted:
            inst.edit_master_cf(chroot_services)
        inst.start()
        if chrooted:
            check_chrooted(inst)

        def queue():
            r = inst.cmd("postqueue", "-j")
            assert r.returncode == 0, r.stderr
            return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        send(inst, "bob@remote.test", "routed by a missing table")
        assert wait_for(lambda: [m["queue_name"] for m in queue()] ==
                        ["deferred"], 30), (queue(), inst.log()[-3000:])
        log = inst.log()
        assert re.search(r"to=<bob@remote.test>, .*dsn=4\.3\.0, "
                         r"status=deferred", log), log[-3000:]
        assert "status=bounced" not in log
        assert "table texthash:" in log and "is unavailable" in log, log[-3000:]
        assert sink.messages == []
        with open(os.path.join(inst.etc, "transport"), "w") as f:
            f.write(f"remote.test smtp:[127.0.0.1]:{sink.port}\n")
        for _ in range(20):
            inst.cmd("flush")
            if wait_for(lambda: sink.messages, 3):
                break
        assert sink.messages, inst.log()[-3000:]
        assert sink.messages[0]["to"] == ["bob@remote.test"]
        assert wait_for(inst.queue_empty, 30)
        assert "status=bounced" not in inst.log()
        assert_no_crash(inst.log())
    finally:
        sink.stop()


def test_postmap_query_and_compile(make_instance):
    """tempest postmap -q answers what the daemons look up; postmap FILE
    compiles a "key value" table into FILE.db, which the daemons then
    read instead of the text (so an edit needs postmap again, as with
    Postfix)."""
    inst = make_instance()
    virtual = os.path.join(inst.etc, "virtual")
    with open(virtual, "w") as f:
        f.write("# aliases of the virtual domain\n"
                "Sales@example.test  demo@example.test\n"
                "team@example.test   demo@example.test,\n"
                "    nobody@remote.test\n"
                "lonely-key\n")
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("virtual_alias_maps = hash:%s\n" % virtual)
    inst.start()
    p = inst.cmd("postmap", "-q", "sales@EXAMPLE.test", virtual)
    assert p.returncode == 0 and p.stdout == "demo@example.test\n", p.stderr
    p = inst.cmd("postmap", "-q", "-", "hash:" + virtual,
                 input="team@example.test\nnobody@example.test\n")
    assert p.returncode == 0
    assert p.stdout == "team@example.test\tdemo@example.test, nobody@remote.test\n"
    assert inst.cmd("postmap", "-q", "nobody@example.test", virtual).returncode == 1
    p = inst.cmd("postmap", "-q", "x", os.path.join(inst.etc, "missing"))
    assert p.returncode == 2 and "unavailable" in p.stderr
    assert inst.cmd("postmap", "-q", "a", "inline:{a=b}").stdout == "b\n"
    assert rcpt_reply(inst, "sales@example.test")[0] == 250

    p = inst.cmd("postmap", virtual)
    assert p.returncode == 0, p.stderr
    assert "virtual.db: 2 entries" in p.stdout
    assert "virtual:5: need \"key value\"" in p.stderr
    # the text changed without postmap: the compiled table still counts
    with open(virtual, "a") as f:
        f.write("new@example.test demo@example.test\n")
    os.utime(virtual, (time.time() + 5, time.time() + 5))
    assert inst.cmd("postmap", "-q", "new@example.test", virtual).returncode == 1
    # (a daemon looks for the compiled file at most once a second)
    assert wait_for(lambda: rcpt_reply(inst, "new@example.test")[0] == 550, 10)
    assert inst.cmd("postmap", virtual).returncode == 0
    assert inst.cmd("postmap", "-q", "new@example.test", virtual).stdout == \
        "demo@example.test\n"
    assert wait_for(lambda: rcpt_reply(inst, "new@example.test")[0] == 250, 10)
    send(inst, "new@example.test", "via the compiled table")
    assert subjects(inst.wait_messages(1, timeout=30)) == {"via the compiled table"}
    assert inst.cmd("postmap", "inline:{a=b}").returncode == 1
