"""Recipe files that appear or go away while the local/virtual agent runs
are noticed at the next delivery (the agent keeps no memory of files it
found missing)."""
import os
import smtplib

import pytest

from conftest import wait_for


def send(inst, subject):
    msg = ("From: alice@example.org\r\nTo: demo@example.test\r\n"
           "Subject: %s\r\nMessage-ID: <%s@later>\r\n\r\nhello\r\n"
           % (subject, abs(hash(subject))))
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("alice@example.org", ["demo@example.test"], msg)


def has(inst, subject, folder=""):
    for p in inst.messages(folder=folder):
        with open(p) as f:
            if "Subject: %s\n" % subject in f.read():
                return True
    return False


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


@pytest.fixture
def inst(make_instance):
    inst = make_instance()
    sysrc = os.path.join(inst.etc, "procmailrc")
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("recipe_system_file = %s\n" % sysrc)
    inst.sysrc = sysrc
    inst.start()
    yield inst


def test_rcfiles_created_and_removed_later(inst):
    # no rcfile anywhere: inbox (twice, so the missing files are remembered)
    send(inst, "first")
    assert wait_for(lambda: has(inst, "first"), 30), inst.log()[-3000:]
    send(inst, "second")
    assert wait_for(lambda: has(inst, "second"), 30), inst.log()[-3000:]
    # the user's rcfile appears in the Maildir
    rc = os.path.join(inst.maildir(), ".procmailrc")
    write(rc, ":0\n* ^Subject:.*later\n.Later/\n")
    send(inst, "later one")
    assert wait_for(lambda: has(inst, "later one", "Later"), 30), inst.log()[-3000:]
    # it goes away again: the inbox
    os.unlink(rc)
    send(inst, "later two")
    assert wait_for(lambda: has(inst, "later two"), 30), inst.log()[-3000:]
    assert not has(inst, "later two", "Later")
    # the system-wide rcfile appears (written elsewhere, renamed in)
    tmp = inst.sysrc + ".new"
    write(tmp, ":0\n* ^Subject:.*system\n.System/\n")
    os.rename(tmp, inst.sysrc)
    send(inst, "system one")
    assert wait_for(lambda: has(inst, "system one", "System"), 30), inst.log()[-3000:]
    assert wait_for(inst.queue_empty, 30)
