"""Aliases, :include: lists, |command and /file targets, ~/.forward and
alias loops, through real local delivery: mail to NAME@localhost (the
instance's mydestination) is expanded by the local delivery agent, and
forwarded copies go through the queue again (remote ones to a test SMTP
server via transport_maps)."""
import email
import os
import pwd
import smtplib
import time

import pytest

from conftest import wait_for
from outbound_util import SMTPServer
from test_outbound_smtp import dsn_reports


@pytest.fixture
def server():
    s = SMTPServer()
    yield s
    s.stop()


def make(make_instance, server, aliases, **extra):
    conf = {"transport_maps": "texthash:$config_directory/transport",
            "smtp_tls_security_level": "none",
            "minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}
    conf.update(extra)
    inst = make_instance("aliases", extra=conf)
    out = os.path.join(inst.dir, "out")
    os.makedirs(out)
    os.chmod(out, 0o1777)
    with open(os.path.join(inst.etc, "transport"), "w") as f:
        f.write(f"remote.test smtp:[127.0.0.1]:{server.port}\n")
    with open(os.path.join(inst.etc, "aliases"), "a") as f:
        f.write(aliases.format(out=out, etc=inst.etc))
    return inst, out


def make_nobody(make_instance, server, spool=False):
    """An instance where the system user nobody's .forward is
    $config_directory/forward/nobody (root only: expanded with nobody's
    rights); with spool, nobody's mbox is in a spool directory of the
    instance.  Returns (inst, out, spool directory or None)."""
    if os.getuid() != 0:
        pytest.skip("needs root: .forward of a system user with its rights")
    pwd.getpwnam("nobody")
    inst, out = make(make_instance, server, "",
                     forward_path="$config_directory/forward/$user",
                     mail_spool_directory="")
    if not spool:
        return inst, out, None
    d = os.path.join(inst.dir, "spool")
    os.makedirs(d)
    os.chmod(d, 0o1777)
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write(f"mail_spool_directory = {d}\n")
    return inst, out, d


def send(inst, to, subject="hi", sender="demo@example.test"):
    msg = f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10) as s:
        s.sendmail(sender, to, msg)


def read(p):
    with open(p, "rb") as f:
        return email.message_from_bytes(f.read())


def test_alias_to_local_and_remote(make_instance, server):
    inst, out = make(make_instance, server,
                     "team: demo, bob@remote.test,\n  carol@remote.test\n")
    inst.start()
    send(inst, ["team@localhost"], subject="to the team")
    msgs = inst.wait_messages(1)
    assert len(msgs) == 1, inst.log()
    m = read(msgs[0])
    assert m["Subject"] == "to the team"
    assert "team@localhost" in m.get_all("Delivered-To")
    assert wait_for(lambda: len(server.messages) == 1, 15), inst.log()
    assert sorted(server.messages[0]["to"]) == ["bob@remote.test",
                                                "carol@remote.test"]
    assert server.messages[0]["from"] == "demo@example.test"
    # every target reached at once: no per-target memory is written
    assert wait_for(inst.queue_empty, 20)
    assert not [f for f in os.listdir(os.path.join(inst.dir, "queue",
                                                   "defer"))
                if f.endswith(".done")]


def test_include_list_with_owner(make_instance, server):
    inst, out = make(make_instance, server,
                     "biglist: :include:{etc}/biglist.txt\n"
                     "owner-biglist: demo\n")
    with open(os.path.join(inst.etc, "biglist.txt"), "w") as f:
        f.write("# members\nbob@remote.test\ncarol@remote.test, demo\n")
    inst.start()
    send(inst, ["biglist@localhost"], subject="list mail")
    assert wait_for(lambda: len(server.messages) == 1, 15), inst.log()
    assert sorted(server.messages[0]["to"]) == ["bob@remote.test",
                                                "carol@remote.test"]
    # the list owner is the envelope sender of list mail
    assert server.messages[0]["from"] == "owner-biglist@localhost"
    msgs = inst.wait_messages(1)
    assert read(msgs[0])["Return-Path"] == "<owner-biglist@localhost>"


def test_command_and_file_targets(make_instance, server):
    inst, out = make(make_instance, server,
                     'logger: "|cat > {out}/cmd.$$; id -u > {out}/cmd.uid"\n'
                     "archive: {out}/archive.mbox\n")
    inst.start()
    send(inst, ["logger@localhost", "archive@localhost"], subject="archived")
    assert wait_for(lambda: any(f.startswith("cmd.") and f != "cmd.uid"
                                for f in os.listdir(out)) and
                    os.path.exists(os.path.join(out, "archive.mbox")), 15), \
        inst.log()
    cmdout = [f for f in os.listdir(out) if f.startswith("cmd.") and f != "cmd.uid"][0]
    assert wait_for(lambda: b"Subject: archived" in
                    open(os.path.join(out, cmdout), "rb").read(), 5)
    mbox_path = os.path.join(out, "archive.mbox")
    assert wait_for(lambda: b"Subject: archived" in open(mbox_path, "rb").read(), 5)
    mbox = open(mbox_path, "rb").read()
    assert mbox.startswith(b"From demo@example.test ")
    assert b"Subject: archived" in mbox
    if os.getuid() == 0:
        # default_privs (nobody), never root
        uid = int(open(os.path.join(out, "cmd.uid")).read())
        assert uid == pwd.getpwnam("nobody").pw_uid
        assert os.stat(os.path.join(out, "archive.mbox")).st_uid == uid


def test_failing_command_bounces(make_instance, server):
    inst, out = make(make_instance, server, 'broken: "|exit 67"\n')
    inst.start()
    send(inst, ["broken@localhost"], subject="to a broken command")
    reps = dsn_reports(inst, 1)
    assert reps, inst.log()
    f = reps[0][1].get_payload()[1]
    assert f["Action"] == "failed" and f["Status"].startswith("5.")
    assert "broken@localhost" in f["Final-Recipient"]


def test_alias_loop_ends_in_one_bounce(make_instance, server):
    inst, out = make(make_instance, server,
                     "loop1: loop2@localhost\nloop2: loop1@localhost\n")
    inst.start()
    send(inst, ["loop1@localhost"], subject="round and round")
    reps = dsn_reports(inst, 1)
    assert reps, inst.log()
    f = reps[0][1].get_payload()[1]
    assert f["Status"] == "5.4.6"
    assert "loop" in f["Diagnostic-Code"]
    time.sleep(1.5)
    # exactly one report, and the loop stopped
    assert len(inst.messages()) == 1
    assert inst.log().count("forwarded to") <= 3


def test_forward_file(make_instance, server):
    inst, out, spool = make_nobody(make_instance, server, spool=True)
    user = pwd.getpwnam("nobody")
    os.makedirs(os.path.join(inst.etc, "forward"))
    with open(os.path.join(inst.etc, "forward", "nobody"), "w") as f:
        f.write(f"bob@remote.test\n\\nobody\n\"|id -u > {out}/fwd.uid\"\n")
    inst.start()
    send(inst, ["nobody@localhost"], subject="forwarded")
    assert wait_for(lambda: len(server.messages) == 1, 15), inst.log()
    assert server.messages[0]["to"] == ["bob@remote.test"]
    # .forward keeps the original sender
    assert server.messages[0]["from"] == "demo@example.test"
    # \nobody: a copy in the user's own mailbox too
    assert wait_for(lambda: os.path.exists(os.path.join(spool, "nobody")), 10)
    assert b"Subject: forwarded" in open(os.path.join(spool, "nobody"), "rb").read()
    # the command ran with the user's rights
    assert wait_for(lambda: os.path.exists(os.path.join(out, "fwd.uid")), 10)
    assert int(open(os.path.join(out, "fwd.uid")).read()) == user.pw_uid


def test_list_domain_routed_to_local(make_instance, server):
    # a list domain that is not in mydestination, routed by transport_maps
    inst, out = make(make_instance, server,
                     "announce: :include:{etc}/announce.txt\n")
    with open(os.path.join(inst.etc, "announce.txt"), "w") as f:
        f.write("demo\nbob@remote.test\n")
    with open(os.path.join(inst.etc, "transport"), "a") as f:
        f.write("lists.test local:\n")
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("relay_domains = lists.test\n")
    inst.start()
    send(inst, ["announce@lists.test"], subject="news")
    assert len(inst.wait_messages(1)) == 1, inst.log()
    assert wait_for(lambda: len(server.messages) == 1, 15), inst.log()
    assert server.messages[0]["to"] == ["bob@remote.test"]


def test_deferred_target_retried_alone(make_instance, server):
    """One target of an alias defers: the retry delivers to it alone; the
    targets that got their copy the first time get no second one."""
    inst, out = make(make_instance, server,
                     'pair: bob@remote.test, {out}/pair.mbox, '
                     '"|if [ -e {out}/second ]; then cat >> {out}/cmd.out; '
                     'else touch {out}/second; exit 75; fi"\n',
                     queue_run_delay="1s")
    inst.start()
    send(inst, ["pair@localhost"], subject="pair mail")
    # first attempt: the command defers, the others are delivered
    assert wait_for(lambda: "status=deferred" in inst.log(), 30), inst.log()
    assert wait_for(lambda: len(server.messages) >= 1, 30), inst.log()
    # the retry (queue_run_delay) runs the command again, and only it
    cmd_out = os.path.join(out, "cmd.out")
    assert wait_for(lambda: os.path.exists(cmd_out) and
                    b"Subject: pair mail" in open(cmd_out, "rb").read(),
                    60), inst.log()
    assert wait_for(inst.queue_empty, 30), inst.log()
    assert open(cmd_out, "rb").read().count(b"Subject: pair mail") == 1
    mbox = open(os.path.join(out, "pair.mbox"), "rb").read()
    assert mbox.count(b"Subject: pair mail") == 1, inst.log()
    assert len(server.messages) == 1, inst.log()
    assert server.messages[0]["to"] == ["bob@remote.test"]
    assert "already delivered" in inst.log()
    # the per-target memory goes with the message
    assert wait_for(lambda: not [f for f in os.listdir(
        os.path.join(inst.dir, "queue", "defer")) if f.endswith(".done")],
        20)
