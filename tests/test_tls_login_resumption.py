"""TLS session resumption on the IMAP and POP3 servers: every imap-login
and pop3-login process encrypts its session tickets with the keys in
$data_directory/tls/login-ticket.key (shared, rotated like smtpd's, a
file of its own), so a session from one login process resumes on
another, and across `tempest reload`; imapd_tls_session_cache_timeout = 0
turns resumption off.  Driven by openssl s_client -sess_out / -sess_in."""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="openssl (Debian package openssl) is not installed")

# port name, s_client -starttls argument (None: implicit TLS), last command
PORTS = {
    "imaps": ("imaps", None, "a1 LOGOUT"),
    "imap-starttls": ("imap", "imap", "a1 LOGOUT"),
    "pop3s": ("pop3s", None, "QUIT"),
    "pop3-starttls": ("pop3", "pop3", "QUIT"),
}


def s_client(inst, case, proto, *args):
    """One TLS session: the server's tickets come right after the
    handshake, before its first reply, so they are in -sess_out by the
    time s_client has read the reply to the last command."""
    port_name, starttls, last = PORTS[case]
    argv = ["openssl", "s_client", "-connect",
            "127.0.0.1:%d" % inst.ports[port_name], "-crlf", "-ign_eof", proto]
    if starttls:
        argv += ["-starttls", starttls]
    try:
        p = subprocess.run(argv + list(args), input=last + "\n",
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("s_client hung: %r\n%s" % (e.stdout,
                                                          inst.log()))
    return p.stdout + p.stderr


@pytest.mark.parametrize("proto", ["-tls1_2", "-tls1_3"])
@pytest.mark.parametrize("case", sorted(PORTS))
def test_login_resumption_across_reload(make_instance, tmp_path, case, proto):
    inst = make_instance().start()
    sess = str(tmp_path / "sess.pem")
    out = s_client(inst, case, proto, "-sess_out", sess)
    assert re.search(r"^New, TLSv1\.[23]", out, re.M), out
    assert os.path.getsize(sess) > 0
    # a new generation of login processes: only the shared key file can
    # decrypt the ticket the old one issued
    role = "imap-login" if case.startswith("imap") else "pop3-login"
    old = set(inst.pids(role))
    assert old
    assert inst.cmd("reload").returncode == 0
    assert wait_for(lambda: not (set(inst.pids(role)) & old), 20)
    out = s_client(inst, case, proto, "-sess_in", sess)
    assert re.search(r"^Reused, TLSv1\.[23]", out, re.M), out
    key = os.path.join(inst.dir, "data", "tls", "login-ticket.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert os.path.getsize(key) == 168


def test_login_tickets_not_smtpd_keys(make_instance, tmp_path):
    """IMAP's key file is not smtpd's: an IMAPS ticket does not resume
    on SMTPS (nor would a stolen key of one open the other)."""
    inst = make_instance().start()
    sess = str(tmp_path / "sess.pem")
    out = s_client(inst, "imaps", "-tls1_3", "-sess_out", sess)
    assert re.search(r"^New, TLSv1\.3", out, re.M), out
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % inst.ports["smtps"], "-crlf",
                        "-ign_eof", "-tls1_3", "-sess_in", sess],
                       input="QUIT\n", capture_output=True, text=True,
                       timeout=60)
    out = p.stdout + p.stderr
    assert re.search(r"^New, TLSv1\.3", out, re.M), out
    tls = os.path.join(inst.dir, "data", "tls")
    with open(os.path.join(tls, "login-ticket.key"), "rb") as f:
        login_keys = f.read()
    with open(os.path.join(tls, "ticket.key"), "rb") as f:
        smtpd_keys = f.read()
    assert login_keys[8:] != smtpd_keys[8:]


def test_login_resumption_off(make_instance, tmp_path):
    inst = make_instance(
        extra={"imapd_tls_session_cache_timeout": "0"}).start()
    sess = str(tmp_path / "sess.pem")
    for case in ("imaps", "pop3s"):
        out = s_client(inst, case, "-tls1_2", "-sess_out", sess)
        assert re.search(r"^New, TLSv1\.2", out, re.M), out
        # no session id and no ticket: nothing the client could resume
        assert re.search(r"^    Session-ID: *$", out, re.M), out
        assert "TLS session ticket:" not in out
        if os.path.exists(sess):
            out = s_client(inst, case, "-tls1_2", "-sess_in", sess)
            assert re.search(r"^New, TLSv1\.2", out, re.M), out
