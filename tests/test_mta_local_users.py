"""System users (mydestination): Maildir under the home directory and the
mbox spool with locking and From_ quoting, written with the recipient's
own uid; and the privileges of each service."""
import os
import pwd
import secrets
import smtplib
import subprocess

import pytest

from conftest import wait_for

root_only = pytest.mark.skipif(os.getuid() != 0,
                               reason="needs root to create a system user")


@pytest.fixture
def base():
    """A directory every user can traverse (pytest's tmp_path is 0700)."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="tempest-users-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sysuser(base):
    name = "tt" + secrets.token_hex(4)
    home = os.path.join(base, name)
    subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", name],
                   check=True)
    yield pwd.getpwnam(name)
    subprocess.run(["userdel", "-r", name], capture_output=True)


@root_only
def test_home_maildir(make_instance, sysuser):
    inst = make_instance(extra={"home_mailbox": "Maildir/"}).start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [f"{sysuser.pw_name}@localhost"],
                   b"Subject: to a system user\r\n\r\nhello\r\n")
        s.mail("a@remote.test")
        code, msg = s.rcpt("nosuchuser@localhost")
        assert code == 550 and b"User unknown in local recipient table" in msg
    new = os.path.join(sysuser.pw_dir, "Maildir", "new")
    files = wait_for(lambda: os.path.isdir(new) and os.listdir(new), 15)
    assert files and len(files) == 1
    st = os.stat(os.path.join(new, files[0]))
    assert st.st_uid == sysuser.pw_uid
    with open(os.path.join(new, files[0]), "rb") as f:
        data = f.read()
    assert data.startswith(b"Return-Path: <a@remote.test>\nDelivered-To: "
                           + sysuser.pw_name.encode() + b"@localhost\n")


@root_only
def test_mbox_spool(make_instance, sysuser, base):
    import pathlib
    spool = pathlib.Path(base) / "spool"
    spool.mkdir()
    os.chmod(spool, 0o1777)
    inst = make_instance(extra={"mail_spool_directory": str(spool)}).start()
    body = b"Subject: mbox\r\n\r\nFrom the start of a line\r\n>From quoted\r\nend\r\n"
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [f"{sysuser.pw_name}@localhost"], body)
        s.sendmail("b@remote.test", [f"{sysuser.pw_name}@localhost"], body)
    box = spool / sysuser.pw_name
    assert wait_for(lambda: box.exists() and box.read_bytes().count(b"\nend\n") == 2, 15)
    data = box.read_bytes()
    # two queue files, delivered in either order: each message starts
    # with its own envelope line, the second after a blank line
    first, second = (b"a", b"b") if data.startswith(b"From a@") else (b"b", b"a")
    assert data.startswith(b"From " + first + b"@remote.test ")
    assert b"\n\nFrom " + second + b"@remote.test " in data
    assert b"\n>From the start of a line\n" in data
    assert b"\n>From quoted\n" in data   # mboxo quoting, as Postfix local(8)
    assert os.stat(box).st_uid == sysuser.pw_uid
    # the dotlock is removed right after the append
    assert wait_for(lambda: not (spool / (sysuser.pw_name + ".lock")).exists(), 5)
    import mailbox
    msgs = list(mailbox.mbox(str(box)))
    assert len(msgs) == 2 and msgs[1]["Return-Path"] == "<%s@remote.test>" % second.decode()


def test_service_privileges(instance):
    def ids(pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]

    smtpd = wait_for(lambda: instance.pids("smtpd"), 5)
    qmgr = wait_for(lambda: instance.pids("qmgr"), 5)
    if os.getuid() != 0:
        assert ids(smtpd[0])[0] == os.getuid()
        return
    owner = pwd.getpwnam("tempest").pw_uid
    # network-facing and queue services run entirely as the mail owner
    # (once started: the drop happens right after reading the config)
    assert wait_for(lambda: ids(smtpd[0]) == [owner] * 4, 5), ids(smtpd[0])
    assert wait_for(lambda: ids(qmgr[0]) == [owner] * 4, 5), ids(qmgr[0])
    # master keeps root
    assert ids(instance.proc.pid)[0] == 0
