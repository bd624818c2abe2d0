"""tempest start|status|stop as a background daemon, timeouts, and
sendmail -bs."""
import os
import re
import smtplib
import subprocess
import time

from conftest import TEMPEST, wait_for, wait_port
from smtputil import Raw

DEMO = "demo@example.test"


def test_start_status_stop(make_instance):
    inst = make_instance(extra={"maillog_file": "/dev/null"})
    p = inst.cmd("status")
    assert p.returncode == 1 and "not running" in p.stderr
    p = inst.cmd("start")
    assert p.returncode == 0, p.stderr
    wait_port(inst.smtp_port)
    p = inst.cmd("status")
    assert p.returncode == 0 and "is running: PID:" in p.stderr
    p = inst.cmd("start")
    assert p.returncode == 1 and "already running" in p.stderr
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [DEMO], b"Subject: daemon\r\n\r\nok\r\n")
    assert inst.wait_messages(1)
    assert inst.cmd("flush").returncode == 0
    p = inst.cmd("stop")
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: not inst.pids("smtpd") and not inst.pids("qmgr"), 10)
    assert inst.cmd("status").returncode == 1


def test_command_timeout(make_instance):
    inst = make_instance(extra={"smtpd_timeout": "2s"}).start()
    r = Raw(inst.smtp_port)
    r.reply()
    r.expect("EHLO slow", 250)
    t0 = time.time()
    code, lines = r.reply(timeout=10)
    assert code == 421 and "timeout exceeded" in lines[0]
    assert 1.5 < time.time() - t0 < 8
    assert r.closed()
    assert "timeout after EHLO" in inst.log()


def test_sendmail_bs(instance):
    p = instance.cmd("sendmail", "-bs", input="EHLO bs\r\nMAIL FROM:<bs@remote.test>\r\n"
                     f"RCPT TO:<{DEMO}>\r\nDATA\r\nSubject: -bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n")
    assert p.returncode == 0, p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout
    assert p.stdout.rstrip().endswith("221 2.0.0 Bye")
    msgs = instance.wait_messages(1)
    with open(msgs[0], "rb") as f:
        assert b"via -bs" in f.read()


def with_own_aliases(make_instance):
    """An instance (not started) whose alias_database is its own file
    (the default is the system's /etc/aliases): (instance, its path)."""
    inst = make_instance(extra={"maillog_file": "/dev/null"})
    aliases = os.path.join(inst.etc, "aliases")
    with open(aliases, "w") as f:
        f.write("postmaster: demo\n")
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("alias_database = hash:%s\n" % aliases)
    return inst, aliases


def test_help_and_stray_arguments(make_instance, tmp_path):
    """`tempest CMD --help` prints the command's synopsis on stdout and
    does nothing else; a command that takes no arguments refuses one
    instead of acting (`tempest stop now` does not stop, `newaliases
    --help` compiles nothing)."""
    inst, aliases = with_own_aliases(make_instance)
    assert inst.cmd("start").returncode == 0
    wait_port(inst.smtp_port)
    top = inst.cmd("--help")
    assert top.returncode == 0 and top.stdout.startswith("usage: tempest ")
    assert inst.cmd("help").stdout == top.stdout
    names = [ln.split()[0] for ln in top.stdout.split("commands:\n")[1].splitlines()]
    assert {"stop", "newaliases", "learn", "sendmail", "quarantine"} <= set(names)
    for name in names:
        p = inst.cmd(name, "--help", input="")
        assert p.returncode == 0, (name, p.stderr)
        assert p.stdout.startswith("usage: tempest %s" % name), (name, p.stdout)
        assert p.stderr == "", (name, p.stderr)
    bad = inst.cmd("--no-such-option")
    assert bad.returncode == 2 and bad.stdout == "" and "usage: tempest" in bad.stderr
    for args in (["stop", "now"], ["start", "--force"], ["reload", "x"],
                 ["flush", "-v"], ["status", "x"], ["newaliases", "-x"]):
        p = inst.cmd(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "takes no arguments" in p.stderr and "usage: tempest " + args[0] in p.stderr
    # commands with operands refuse words too many before doing anything
    for args in (["postqueue", "-p", "extra"], ["mailq", "-j", "x"],
                 ["quarantine", "--db", str(tmp_path / "q.db"), "list", "x"],
                 ["quarantine", "--db", str(tmp_path / "q.db"), "delete", "a", "b"]):
        p = inst.cmd(*args)
        assert p.returncode == 2 and p.stdout == "", (args, p.stdout)
        assert "usage: tempest " + args[0] in p.stderr
    # a wrong use of a command with arguments shows the same synopsis
    p = inst.cmd("learn", "--bogus")
    assert p.returncode == 2 and "usage: tempest learn --spam|--ham" in p.stderr
    assert "tempest learn --expire" in p.stderr
    # none of that stopped the system or compiled the aliases
    assert inst.cmd("status").returncode == 0
    assert not os.path.exists(aliases + ".db")
    assert inst.cmd("newaliases").returncode == 0 and os.path.exists(aliases + ".db")
    # called by a Postfix name, the synopsis carries that name
    link = tmp_path / "sendmail"
    link.symlink_to(os.path.abspath(TEMPEST))
    p = subprocess.run([str(link), "--help"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, TEMPEST_CONFIG_DIR=inst.etc))
    assert p.returncode == 0 and p.stdout.startswith("usage: sendmail [-t] [-i]")
    p = inst.cmd("stop")
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: not inst.pids("smtpd"), 10)


def test_postconf_edit(make_instance):
    """postconf -e/-X/-# edit main.cf as Postfix's do, keep its owner's
    mode, refuse a bad value without touching the file; a reload makes
    the edit effective; -h prints values alone."""
    inst = make_instance().start()
    main_cf = os.path.join(inst.etc, "main.cf")
    os.chmod(main_cf, 0o600)
    with open(main_cf, "a") as f:
        f.write("# the banner\nsmtpd_banner = $myhostname\n  ESMTP old\n")
    p = inst.cmd("postconf", "-e", "smtpd_banner = $myhostname ESMTP edited",
                 "message_size_limit=2000000")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    text = open(main_cf).read()
    assert "smtpd_banner = $myhostname ESMTP edited\n" in text
    assert "ESMTP old" not in text and "# the banner\n" in text
    assert text.count("message_size_limit") == 1
    assert os.stat(main_cf).st_mode & 0o777 == 0o600
    p = inst.cmd("postconf", "-h", "smtpd_banner", "message_size_limit")
    assert p.stdout == "mail.example.test ESMTP edited\n2000000\n"
    assert inst.cmd("reload").returncode == 0

    def size():
        with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
            s.ehlo()
            return s.esmtp_features.get("size")

    assert wait_for(lambda: size() == "2000000", 10)
    r = Raw(inst.smtp_port)
    assert r.reply()[1][0].endswith("ESMTP edited")
    # a bad value is refused and the file stays as it was
    before = open(main_cf, "rb").read()
    p = inst.cmd("postconf", "-e", "smtpd_helo_required=perhaps")
    assert p.returncode == 1 and "bad boolean value" in p.stderr
    p = inst.cmd("postconf", "-e", "smtpd_banner")
    assert p.returncode == 1 and "missing '='" in p.stderr
    assert open(main_cf, "rb").read() == before
    # -# comments a setting out, -X removes it; the defaults come back
    assert inst.cmd("postconf", "-#", "smtpd_banner").returncode == 0
    assert "#smtpd_banner = $myhostname ESMTP edited\n" in open(main_cf).read()
    p = inst.cmd("postconf", "-X", "message_size_limit", "no_such_setting")
    assert p.returncode == 0 and "no_such_setting: not set" in p.stderr
    assert "message_size_limit" not in open(main_cf).read()
    p = inst.cmd("postconf", "-h", "message_size_limit", "smtpd_banner")
    assert p.stdout == "10240000\nmail.example.test ESMTP Tempest\n"
    assert not [f for f in os.listdir(inst.etc) if ".tmp." in f]


def test_check_and_reload_of_a_bad_master_cf(make_instance):
    """tempest check reads main.cf, master.cf and every *_maps table as
    the daemons would; tempest reload refuses a master.cf that master
    would refuse, on the terminal, and the running services stay."""
    inst = make_instance()
    p = inst.cmd("check")
    assert p.returncode == 0 and p.stdout == "", p.stderr
    inst.start()
    good = open(os.path.join(inst.etc, "master.cf")).read()

    def chroot_local(text):
        out = []
        for line in text.splitlines(keepends=True):
            f = line.split()
            if len(f) >= 8 and f[0] == "local" and f[7] == "local":
                f[4] = "y"
                line = " ".join(f) + "\n"
            out.append(line)
        return "".join(out) + "spamd unix - - n - - spamd\n"
    inst.edit_master_cf(chroot_local)
    p = inst.cmd("check")
    assert p.returncode == 1
    assert re.search(r"master\.cf:\d+: service local: local cannot run chrooted", p.stderr)
    assert "spamd is not a Tempest daemon" in p.stderr
    p = inst.cmd("reload")
    assert p.returncode == 1 and "local cannot run chrooted" in p.stderr
    assert "nothing reloaded" in p.stderr
    assert "reload --" not in inst.log()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [DEMO], b"Subject: still up\r\n\r\nok\r\n")
    assert inst.wait_messages(1)
    inst.edit_master_cf(lambda text: good)
    assert inst.cmd("reload").returncode == 0
    assert wait_for(lambda: "reload --" in inst.log(), 10)

    # tables: one that cannot be read is a warning, an unknown type an error
    with open(os.path.join(inst.etc, "main.cf"), "a") as f:
        f.write("transport_maps = hash:%s/missing\n" % inst.etc)
    p = inst.cmd("check")
    assert p.returncode == 0
    assert "table hash:%s/missing is unavailable" % inst.etc in p.stderr
    assert "transport_maps: a table of it cannot be read" in p.stderr
    assert inst.cmd("postconf", "-e", "transport_maps = nosuch:/x").returncode == 0
    p = inst.cmd("check")
    assert p.returncode == 1
    assert "transport_maps: unsupported lookup table type: nosuch:/x" in p.stderr


def test_check_tls_certificates(make_instance, tmp_path):
    """tempest check loads the certificate and key main.cf names, as
    smtpd and the login servers would at their start: a missing file
    or a key of another certificate is an error, a certificate without
    the key the login servers need a warning."""
    def gen(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)
    c1, k1, k2 = (str(tmp_path / n) for n in ("c1.pem", "k1.pem", "k2.pem"))
    gen("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", k1, "-out", c1,
        "-subj", "/CN=mail.example.test", "-days", "2")
    gen("genrsa", "-out", k2, "2048")
    inst = make_instance()
    assert inst.cmd("postconf", "-e", "smtpd_tls_cert_file = " + c1,
                    "smtpd_tls_key_file = " + k2).returncode == 0
    p = inst.cmd("check")
    assert p.returncode == 1
    assert "smtpd_tls_cert_file = %s, smtpd_tls_key_file = %s: %s:" % (c1, k2, k2) in p.stderr
    assert "key values mismatch" in p.stderr
    # the key in the certificate's file, as Postfix allows: key empty
    with open(c1, "a") as f:
        f.write(open(k1).read())
    assert inst.cmd("postconf", "-e", "smtpd_tls_key_file =").returncode == 0
    p = inst.cmd("check")
    assert p.returncode == 0 and "smtpd_tls" not in p.stderr, p.stderr
    assert inst.cmd("postconf", "-e", "smtpd_tls_cert_file = %s/nope.pem" % tmp_path,
                    "imapd_tls_cert_file = " + c1).returncode == 0
    p = inst.cmd("check")
    assert p.returncode == 1
    assert "nope.pem: error:" in p.stderr and "No such file" in p.stderr
    assert ("warning: imapd_tls_cert_file is set but imapd_tls_key_file is empty: "
            "the self-signed certificate is used") in p.stderr
    assert inst.cmd("postconf", "-X", "smtpd_tls_cert_file").returncode == 0
    assert inst.cmd("postconf", "-e", "imapd_tls_key_file = " + k1).returncode == 0
    p = inst.cmd("check")
    assert p.returncode == 0 and "tls" not in p.stderr, p.stderr


def test_sendmail_modes(make_instance):
    """Postfix's sendmail modes beyond mail and -bs: -bp lists the
    queue, -bi rebuilds the aliases, -q flushes, -bd starts the system;
    they take no recipients, and -bv is refused."""
    inst, aliases = with_own_aliases(make_instance)
    p = inst.cmd("sendmail", "-q")
    assert p.returncode == 1 and "not running" in p.stderr
    p = inst.cmd("sendmail", "-bd", "-q30m")
    assert p.returncode == 0, p.stderr
    wait_port(inst.smtp_port)
    try:
        assert inst.cmd("status").returncode == 0
        p = inst.cmd("sendmail", "-bp")
        assert p.returncode == 0 and p.stdout == "Mail queue is empty\n"
        p = inst.cmd("sendmail", "-bi")
        assert p.returncode == 0 and os.path.exists(aliases + ".db")
        assert inst.cmd("sendmail", "-q").returncode == 0
        for args in (["-bp", DEMO], ["-q", DEMO]):
            p = inst.cmd("sendmail", *args, input="")
            assert p.returncode == 64 and "no recipients here" in p.stderr
        p = inst.cmd("sendmail", "-bv", DEMO, input="")
        assert p.returncode == 64 and "-bv is not supported" in p.stderr
        p = inst.cmd("sendmail", "-oi", "-t", input="To: %s\nSubject: modes\n\nx\n" % DEMO)
        assert p.returncode == 0, p.stderr
        assert inst.wait_messages(1)
    finally:
        assert inst.cmd("stop").returncode == 0


def test_control_commands_of_another_user(make_instance):
    """A user who may not read master's pid file (queue_directory/pid is
    mail_owner's) is told so, not that the system is not running, and
    one who may not list the queue is not told it is empty; one who may
    not signal master is told that stop failed."""
    inst = make_instance()
    inst.start()
    # the configuration readable by all, as /etc/tempest is
    d = inst.etc
    while d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o005)
        d = os.path.dirname(d)
    for f in os.listdir(inst.etc):
        os.chmod(os.path.join(inst.etc, f), os.stat(os.path.join(inst.etc, f)).st_mode | 0o004)

    def as_nobody(*args):
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                               "--clear-groups", TEMPEST, "-c", inst.etc] + list(args),
                              capture_output=True, text=True, timeout=30)
    for cmd in ("status", "stop", "reload"):
        p = as_nobody(cmd)
        assert p.returncode == 1, (cmd, p.stderr)
        assert "cannot tell whether the mail system runs" in p.stderr, p.stderr
        assert "Permission denied" in p.stderr
    # nor may it list the queue: that is said, not "empty"
    p = as_nobody("mailq")
    assert p.returncode == 1 and "cannot be listed as this user" in p.stderr
    assert "empty" not in p.stdout
    p = as_nobody("postsuper", "-d", "ALL")
    assert p.returncode == 1 and "ALL was not all" in p.stderr
    # the pid file readable, master still not this user's to signal
    piddir = os.path.join(inst.dir, "queue", "pid")
    os.chmod(piddir, 0o755)
    os.chmod(os.path.join(piddir, "master.pid"), 0o644)
    p = as_nobody("status")
    assert p.returncode == 0 and "is running" in p.stderr, p.stderr
    p = as_nobody("stop")
    assert p.returncode == 1 and "Operation not permitted" in p.stderr, p.stderr
    assert inst.cmd("status").returncode == 0
