"""Privilege separation of IMAP and POP3 (issue 7, part 3): the login
processes run unprivileged in an empty chroot and cannot open any
Maildir; after login a worker with the user's uid serves the session;
per-user and per-IP limits hold over several login processes."""
import os
import pwd
import sys

import pytest

from conftest import wait_for
from imap_helpers import Raw, start_instance

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "scripts"))
import instance as instance_mod  # noqa: E402

USER = "demo@example.test"

root_only = pytest.mark.skipif(os.geteuid() != 0,
                               reason="privilege separation needs root "
                                      "(services keep the caller's uid otherwise)")


def ids(pid):
    """(real uid, real gid) of a process."""
    uid = gid = None
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("Uid:"):
                uid = int(ln.split()[1])
            elif ln.startswith("Gid:"):
                gid = int(ln.split()[1])
    return uid, gid


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")


def workers(inst, role):
    return [p for p in inst.pids(role) if b"worker" in cmdline(p)]


def try_open_as(pid, path):
    """In a child with pid's chroot, uid and gid: can path be listed?
    Returns the errno name, or "ok"."""
    uid, gid = ids(pid)
    root = os.readlink("/proc/%d/root" % pid)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        res = b"ok"
        try:
            os.chroot(root)
            os.chdir("/")
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.listdir(path)
        except OSError as e:
            res = e.__class__.__name__.encode()
        os.write(w, res)
        os._exit(0)
    os.close(w)
    res = os.read(r, 100).decode()
    os.close(r)
    os.waitpid(child, 0)
    return res


@pytest.fixture
def inst(make_instance):
    return start_instance(make_instance)


def login(inst, port="imap", tls=False):
    r = Raw(inst.ports[port], tls=tls)
    assert r.line().startswith("* OK")
    out = r.cmd("l1", 'LOGIN "%s" "%s"' % (USER, inst.password))
    assert out[-1].startswith("l1 OK"), out
    return r


@root_only
def test_login_processes_are_unprivileged_and_chrooted(inst):
    owner = pwd.getpwnam(instance_mod.mail_owner()[0])
    # a user of their own, created by master (Dovecot's dovenull)
    login = pwd.getpwnam("tempest-login")
    assert login.pw_uid not in (0, owner.pw_uid)
    maildir = inst.maildir()
    for role in ("imap-login", "pop3-login"):
        # master may just be starting one more (it starts as root)
        pids = wait_for(lambda: inst.pids(role) if all(
            ids(p)[0] == login.pw_uid for p in inst.pids(role)) else None, 20)
        assert pids, role
        for pid in pids:
            assert ids(pid) == (login.pw_uid, login.pw_gid), role
            root = os.readlink("/proc/%d/root" % pid)
            assert root != "/" and os.listdir(root) == [], (role, root)
            # the Maildir and the queue are out of reach inside the chroot
            assert try_open_as(pid, maildir) == "FileNotFoundError"
            assert try_open_as(pid, os.path.join(inst.dir, "queue")) == \
                "FileNotFoundError"
    # and the login uid owns nothing there: the Maildir belongs to the
    # mail owner, who is not the login user
    assert os.stat(maildir).st_uid == owner.pw_uid != login.pw_uid


@root_only
def test_post_login_worker_has_the_users_uid(inst):
    assert not workers(inst, "imapd")
    r = login(inst)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    ws = wait_for(lambda: workers(inst, "imapd"), 20)
    assert len(ws) == 1
    st = os.stat(inst.maildir())
    assert ids(ws[0]) == (st.st_uid, st.st_gid) != (0, 0)
    # the post-login master keeps root (only to start workers)
    masters = [p for p in inst.pids("imapd") if p not in ws]
    assert masters and all(ids(p)[0] == 0 for p in masters)
    # a TLS session is relayed by imap-login to the same worker
    t = login(inst, "imaps", tls=True)
    assert t.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    assert workers(inst, "imapd") == ws
    r.close()
    t.close()
    import poplib
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    p.user(USER)
    p.pass_(inst.password)
    pw = wait_for(lambda: workers(inst, "pop3d"), 20)
    assert pw and ids(pw[0]) == (st.st_uid, st.st_gid)
    p.quit()


@root_only
def test_user_with_own_uid_gets_own_worker(make_instance):
    inst = start_instance(make_instance)
    nobody = pwd.getpwnam("nobody")
    box = os.path.join(inst.dir, "mail", "example.test", "other")
    for sub in ("", "new", "cur", "tmp"):
        os.makedirs(os.path.join(box, sub), exist_ok=True)
        os.chown(os.path.join(box, sub), nobody.pw_uid, nobody.pw_gid)
        os.chmod(os.path.join(box, sub), 0o700)
    with open(os.path.join(box, "new", "m1"), "w") as f:
        f.write("Subject: for other\n\nhello\n")
    os.chown(os.path.join(box, "new", "m1"), nobody.pw_uid, nobody.pw_gid)
    with open(os.path.join(inst.etc, "users"), "a") as f:
        f.write("other@example.test:%s:%d:%d::example.test/other/::\n" % (
            instance_mod.hash_password("other-pw"), nobody.pw_uid,
            nobody.pw_gid))
    a = login(inst)
    b = Raw(inst.ports["imap"])
    b.line()
    out = b.cmd("l", 'LOGIN "other@example.test" "other-pw"')
    assert out[-1].startswith("l OK"), out
    out = b.cmd("s", "SELECT INBOX")
    assert "* 1 EXISTS" in out, out
    ws = wait_for(lambda: len(workers(inst, "imapd")) == 2 and
                  workers(inst, "imapd"), 20)
    assert ws
    assert sorted(ids(p)[0] for p in ws) == sorted(
        [os.stat(inst.maildir()).st_uid, nobody.pw_uid])
    # demo's session still works next to it
    assert a.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    a.close()
    b.close()


def test_limits_hold_across_login_processes(make_instance):
    # one pre-login session per imap-login process: master starts more
    inst = start_instance(make_instance, {
        "imapd_process_session_limit": "1",
        "imapd_client_connection_limit": "3",
        "imapd_user_connection_limit": "2"})
    before = len(inst.log())
    conns = []
    for _ in range(3):
        r = Raw(inst.ports["imap"])
        assert r.line().startswith("* OK")
        conns.append(r)
    # three connections, three login processes
    def login_pids():
        return {ln.split("imap-login[")[1].split("]")[0]
                for ln in inst.log()[before:].splitlines()
                if "imap-login[" in ln and ": connect from" in ln}
    assert wait_for(lambda: len(login_pids()) >= 3, 20), login_pids()
    e = Raw(inst.ports["imap"])
    assert e.line().startswith("* BYE")
    assert e.closed()
    for r in conns:
        r.close()

    def logins_ok(n):
        got = []
        for _ in range(n):
            r = Raw(inst.ports["imaps"], tls=True)
            if not r.line().startswith("* OK"):    # still over the IP limit
                r.close()
                break
            out = r.cmd("l", 'LOGIN "%s" "%s"' % (USER, inst.password))
            got.append(r)
            if not out[-1].startswith("l OK"):
                break
        return got
    # the TLS sessions stay in (different) imap-login processes as relays;
    # the third login of the user is refused by the one master
    sess = wait_for(lambda: _two_then_limit(inst, logins_ok), 30)
    assert sess, "per-user limit not enforced across processes"


def _two_then_limit(inst, logins_ok):
    got = logins_ok(2)
    if len(got) != 2:
        for r in got:
            r.close()
        return False
    r = Raw(inst.ports["imaps"], tls=True)
    if not r.line().startswith("* OK"):     # a closed one still counted
        for x in got + [r]:
            x.close()
        return False
    out = r.cmd("l", 'LOGIN "%s" "%s"' % (USER, inst.password))
    for x in got + [r]:
        x.close()
    assert out[-1].startswith("l NO [LIMIT]"), out
    return True


def test_post_login_service_on_a_network_port_says_why(make_instance):
    """An instance made before the login split ran imapd itself on the
    IMAP port.  imapd is now the post-login service (reached only through
    private/imapd): on a network listener it stops with an error that
    says what master.cf should say, instead of dropping every client
    silently; SMTP keeps serving."""
    inst = make_instance()
    inst.edit_master_cf(lambda t: t.replace(
        "       imap-login\n", "       imapd\n", 1))
    inst.start()
    assert wait_for(lambda: "a network listener for a private service: run "
                    "imap-login on the network port" in inst.log(), 30), \
        inst.log()[-2000:]
    import smtplib
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        assert s.noop()[0] == 250
