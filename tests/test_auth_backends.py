"""Every password backend of the auth service, through SMTP AUTH:
passwd-file with hashes made by mkpasswd (yescrypt, SHA-512, SHA-256,
bcrypt) and Dovecot's doveadm pw, a system user created here through
/etc/shadow and through PAM, the SQLite users table (written by
`tempest passwd -t sqlite:...`), and a real Cyrus saslauthd -a sasldb
started here with its socket in a temporary directory.  Also: the auth
service keeps root only for backends that need it.
"""
import base64
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import stand_in_library, wait_for
from smtputil import Raw

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0,
                               reason="creating system users needs root")


def have(cmd):
    return shutil.which(cmd) is not None


def start(make_instance, tables, **extra):
    conf = {"smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "no",
            "smtpd_tls_security_level": "none", "auth_failure_delay": "0",
            "auth_passdb_tables": tables}
    conf.update(extra)
    return make_instance(extra=conf)


def login(inst, user, pw):
    r = Raw(inst.smtp_port)
    r.reply()
    r.expect("EHLO x.test", 250)
    msg = base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()
    code, _ = r.cmd("AUTH PLAIN " + msg)
    r.cmd("QUIT")
    r.close()
    return code


def auth_uid(inst):
    pids = wait_for(lambda: inst.pids("auth"))
    assert pids
    with open("/proc/%d/status" % pids[0]) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line")


@pytest.mark.skipif(not have("mkpasswd"), reason="mkpasswd (Debian whois) not installed")
def test_passwd_file_crypt_hashes(make_instance):
    inst = start(make_instance, "passwd-file:$config_directory/hashes")
    users = {}
    for method in ("yescrypt", "sha512crypt", "sha256crypt", "bcrypt"):
        pw = "pw-" + method
        h = subprocess.run(["mkpasswd", "-m", method, pw], capture_output=True,
                           text=True, check=True).stdout.strip()
        users["%s@example.test" % method] = (h, pw)
    if have("doveadm"):
        for scheme in ("SHA512-CRYPT", "BLF-CRYPT", "SHA256-CRYPT"):
            pw = "dove-" + scheme
            h = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", pw],
                               capture_output=True, text=True,
                               check=True).stdout.strip()
            assert h.startswith("{%s}" % scheme)
            users["dove-%s@example.test" % scheme.lower()] = (h, pw)
    with open(os.path.join(inst.etc, "hashes"), "w") as f:
        for u, (h, _) in users.items():
            f.write("%s:%s::::example.test/x/::\n" % (u, h))
    os.chmod(os.path.join(inst.etc, "hashes"), 0o644)
    inst.start()
    for u, (_, pw) in users.items():
        assert login(inst, u, pw) == 235, u
        assert login(inst, u, pw + "x") == 535, u
    assert login(inst, "nobody@example.test", "x") == 535
    # passwd-file needs no root: the service runs as mail_owner
    if os.geteuid() == 0:
        assert auth_uid(inst) != 0


@pytest.fixture
def system_user():
    name = "tmpst" + secrets.token_hex(3)
    pw = "Sys-" + secrets.token_hex(6)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s",
                    "/usr/sbin/nologin", name], check=True)
    subprocess.run(["chpasswd"], input="%s:%s\n" % (name, pw), text=True,
                   check=True)
    yield name, pw
    subprocess.run(["userdel", name], capture_output=True)


@ROOT_ONLY
def test_system_user_shadow(make_instance, system_user):
    name, pw = system_user
    inst = start(make_instance, "shadow").start()
    assert login(inst, name, pw) == 235
    assert login(inst, name, "wrong") == 535
    assert login(inst, "no-such-user-here", pw) == 535
    assert auth_uid(inst) == 0              # shadow needs root
    assert pw not in inst.log()


@ROOT_ONLY
def test_system_user_pam(make_instance, system_user):
    name, pw = system_user
    inst = start(make_instance, "pam").start()
    if "this build has no PAM support" in inst.log():
        pytest.skip("built without libpam0g-dev")
    assert login(inst, name, pw) == 235
    assert login(inst, name, "wrong") == 535
    assert login(inst, "no-such-user-here", pw) == 535
    assert pw not in inst.log()


def test_pam_library_loaded_when_used(make_instance, tmp_path):
    """libpam is loaded with dlopen() when a pam table is opened, so no
    other process maps it: tempest does not need it to start, and a
    libpam.so.0 without its functions (found first through
    LD_LIBRARY_PATH) makes opening the table fail with an error naming
    the library and the function."""
    from conftest import TEMPEST
    needed = subprocess.run(["readelf", "-d", TEMPEST], capture_output=True, text=True)
    assert needed.returncode == 0 and "NEEDED" in needed.stdout, needed.stderr
    assert "libpam" not in needed.stdout, needed.stdout
    lib = stand_in_library(tmp_path, "libpam.so.0")
    inst = make_instance()
    # the real library: the table opens, and then says it cannot be written
    r = inst.cmd("passwd", "-t", "pam:", "someone@example.test", input="pw\n")
    if "this build has no PAM support" in r.stderr:
        pytest.skip("built without libpam0g-dev")
    assert r.returncode != 0 and "does not load" not in r.stderr, r.stderr
    r = inst.cmd("passwd", "-t", "pam:", "someone@example.test", input="pw\n",
                 env=dict(os.environ, LD_LIBRARY_PATH=str(lib)))
    assert r.returncode != 0
    assert "the PAM library: libpam.so.0 lacks pam_start" in r.stderr, r.stderr


def test_sqlite_table(make_instance):
    inst = start(make_instance, "sqlite:$data_directory/users.db, "
                 "passwd-file:$config_directory/users")
    db = os.path.join(inst.dir, "data", "users.db")
    p = inst.cmd("passwd", "-t", "sqlite:" + db, "sq@example.test",
                 input="sqlite pw\n")
    assert p.returncode == 0, p.stderr
    out = subprocess.run(["sqlite3", db, "SELECT name, substr(password,1,17) "
                          "FROM users"], capture_output=True, text=True)
    if out.returncode == 0:                 # sqlite3 CLI is optional
        assert out.stdout.strip() == "sq@example.test|{SHA512-CRYPT}$6$"
    inst.start()
    assert login(inst, "sq@example.test", "sqlite pw") == 235
    assert login(inst, "sq@example.test", "sqlite pw!") == 535
    # the next table still answers for users the first does not know
    assert login(inst, "demo@example.test", inst.password) == 235


@ROOT_ONLY
@pytest.mark.skipif(not (have("saslauthd") and have("saslpasswd2")),
                    reason="saslauthd/saslpasswd2 (Debian sasl2-bin) not installed")
def test_saslauthd_sasldb(make_instance):
    # saslauthd's sasldb backend always reads /etc/sasldb2: use a unique
    # user there and remove it afterwards
    user, realm = "tmpst" + secrets.token_hex(3), "example.test"
    pw = "sasl-" + secrets.token_hex(6)
    subprocess.run(["saslpasswd2", "-p", "-c", "-u", realm, user], input=pw,
                   text=True, check=True)
    sockdir = tempfile.mkdtemp(prefix="tempest-saslauthd-")
    os.chmod(sockdir, 0o755)
    sa = subprocess.Popen(["saslauthd", "-a", "sasldb", "-m", sockdir, "-n",
                           "0", "-d"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL,
                          # it signals its whole process group on exit
                          start_new_session=True)
    try:
        mux = os.path.join(sockdir, "mux")
        assert wait_for(lambda: os.path.exists(mux))
        inst = start(make_instance, "saslauthd:" + mux).start()
        assert login(inst, "%s@%s" % (user, realm), pw) == 235
        assert login(inst, "%s@%s" % (user, realm), pw + "x") == 535
        assert login(inst, "nobody@%s" % realm, pw) == 535
        assert pw not in inst.log()
        # a dead saslauthd is a temporary failure, not a wrong password
        sa.send_signal(signal.SIGTERM)
        sa.wait(10)
        assert login(inst, "%s@%s" % (user, realm), pw) == 454
    finally:
        if sa.poll() is None:
            sa.kill()
            sa.wait(5)
        subprocess.run(["saslpasswd2", "-d", "-u", realm, user],
                       capture_output=True)
        shutil.rmtree(sockdir, ignore_errors=True)
