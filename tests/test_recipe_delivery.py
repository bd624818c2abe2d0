"""Recipes in local delivery, end to end: mail sent over SMTP to a virtual
user with a .procmailrc in the Maildir lands in the folder the recipe
chose; the system-wide rcfile runs first; a broken recipe file still
delivers to the inbox and logs the error with file:line; a vacation reply
goes out with the null sender through `tempest sendmail`."""
import os
import smtplib
import time

import pytest

from conftest import wait_for


def send(inst, subject, sender="alice@example.org", body="hello\n", extra=""):
    msg = ("From: %s\r\nTo: demo@example.test\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n%s\r\n%s"
           % (sender, subject, abs(hash(subject + sender)), extra, body))
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail(sender, ["demo@example.test"], msg)


def write_rc(inst, text, name=".procmailrc"):
    p = os.path.join(inst.maildir(), name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o644)
    return p


@pytest.fixture
def rcinst(make_instance):
    inst = make_instance()
    sysrc = os.path.join(inst.etc, "procmailrc")
    with open(sysrc, "w") as f:
        f.write("SYSTEM_RC=ran\n")
    os.chmod(sysrc, 0o644)
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("recipe_system_file = %s\n" % sysrc)
    return inst


def test_recipe_chooses_folder(rcinst):
    inst = rcinst
    write_rc(inst, ":0\n* ^Subject:.*project\n.Projects/\n"
                   ":0\n* SYSTEM_RC ?? ran\n* ^Subject:.*system\n.System/\n")
    inst.start()
    send(inst, "the project plan")
    send(inst, "just hello")
    send(inst, "system check")
    assert inst.wait_messages(1, folder="Projects")
    assert inst.wait_messages(1, folder="System")
    inbox = inst.wait_messages(1)
    assert len(inbox) == 1
    text = open(inbox[0]).read()
    assert "Subject: just hello" in text and not text.startswith("From ")
    assert "Subject: the project plan" in open(inst.messages(folder="Projects")[0]).read()
    assert wait_for(inst.queue_empty)


def test_broken_recipe_delivers_to_inbox(rcinst):
    inst = rcinst
    rc = write_rc(inst, ":0\n{\n" * 1000 + ":0\n.Never/\n" + "}\n" * 1000)
    inst.start()
    send(inst, "still arrives")
    inbox = inst.wait_messages(1)
    assert len(inbox) == 1
    assert "Subject: still arrives" in open(inbox[0]).read()
    assert not inst.messages(folder="Never")
    assert wait_for(lambda: rc + ":" in inst.log() and "nesting too deep" in inst.log())


def test_vacation_reply_through_sendmail(rcinst):
    inst = rcinst
    write_rc(inst, ":0 c\n| tempest vacation -a demo@example.test\n")
    inst.start()
    # from demo to demo: the reply comes back to the same Maildir, and the
    # reply itself (Auto-Submitted, null sender) gets no answer: no loop
    send(inst, "are you there", sender="demo@example.test")
    msgs = inst.wait_messages(2, timeout=20)
    assert len(msgs) == 2, inst.log()[-3000:]
    texts = [open(m).read() for m in msgs]
    reply = [t for t in texts if "Auto-Submitted: auto-replied" in t]
    assert len(reply) == 1
    assert "Subject: Auto: are you there" in reply[0]
    assert "Return-Path: <>" in reply[0]
    assert "In-Reply-To: <" in reply[0]
    time.sleep(1.0)
    assert len(inst.messages()) == 2
    send(inst, "second one", sender="demo@example.test")
    inst.wait_messages(3)
    time.sleep(1.0)
    assert len(inst.messages()) == 3          # once per interval


SYSUSER = "pmrcpt"


@pytest.mark.skipif(os.geteuid() != 0, reason="system users' recipes need root (setuid to the user)")
def test_system_user_recipes(make_instance):
    import pathlib
    import pwd
    import shutil
    import subprocess
    import tempfile
    base = tempfile.mkdtemp(prefix="recipe-home-")   # reachable by the user
    os.chmod(base, 0o755)
    home = pathlib.Path(base) / "home"
    try:
        pwd.getpwnam(SYSUSER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", SYSUSER],
                       check=True)
    # the recipient's home for this test
    subprocess.run(["usermod", "-d", str(home), SYSUSER], check=True)
    pw = pwd.getpwnam(SYSUSER)
    home.mkdir()
    (home / "Mail").mkdir()
    (home / ".procmailrc").write_text(
        "MAILDIR=$HOME/Mail\n:0\n* ^Subject:.*sorted\nsorted/\n:0\nrest/\n")
    for p in (home, home / "Mail", home / ".procmailrc"):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    inst = make_instance()
    inst.start()
    for subj in ("to be sorted", "other"):
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
            s.sendmail("alice@example.org", ["%s@localhost" % SYSUSER],
                       "From: alice@example.org\r\nSubject: %s\r\n\r\nhi\r\n" % subj)

    def files(folder):
        d = home / "Mail" / folder / "new"
        return sorted(d.iterdir()) if d.is_dir() else []
    assert wait_for(lambda: files("sorted") and files("rest"), 20), inst.log()[-2000:]
    f = files("sorted")[0]
    assert os.stat(f).st_uid == pw.pw_uid          # written with the user's rights
    assert "Subject: to be sorted" in f.read_text()
    assert "Return-Path: <alice@example.org>" in f.read_text()
    shutil.rmtree(base, ignore_errors=True)
