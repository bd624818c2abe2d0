"""openssl s_client against every TLS listener of Tempest: STARTTLS for
SMTP, submission, IMAP and POP3 (-starttls smtp|imap|pop3) and the
implicit-TLS ports (SMTPS, IMAPS, POP3S), and three of them again over
TLS 1.2 (-tls1_2).  Each handshake must present
Tempest's certificate (verified against it as the only trust anchor,
host name mail.example.test), a command must work after the handshake
(EHLO without STARTTLS, AUTH PLAIN, IMAP LOGIN/SELECT, POP3 USER/PASS/
STAT), and the server must end the TLS session with close_notify (s_client
exits 0, no "unexpected eof")."""
import base64
import os
import shutil
import subprocess

import pytest

from interop_util import module_instance

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="openssl (Debian package openssl) is not installed")


@pytest.fixture(scope="module")
def inst():
    with module_instance() as i:
        yield i


def s_client(inst, port_name, starttls, commands, extra=()):
    cert = os.path.join(inst.dir, "data", "tls", "server.crt")
    argv = ["openssl", "s_client", "-connect",
            f"127.0.0.1:{inst.ports[port_name]}", "-crlf", "-ign_eof",
            "-quiet", "-CAfile", cert, "-verify_hostname", "mail.example.test",
            "-verify_return_error"]
    if starttls:
        argv += ["-starttls", starttls]
    argv += list(extra)
    p = subprocess.run(argv, input="".join(c + "\n" for c in commands),
                       capture_output=True, text=True, timeout=60)
    return p


def plain_b64(inst):
    return base64.b64encode(
        b"\0demo@example.test\0" + inst.password.encode()).decode()


CASES = {
    "smtp-starttls": ("smtp", "smtp", lambda i: ["EHLO probe.test", "QUIT"]),
    "submission-starttls": ("submission", "smtp", lambda i: [
        "EHLO probe.test", "AUTH PLAIN " + plain_b64(i), "QUIT"]),
    "smtps": ("smtps", None, lambda i: [
        "EHLO probe.test", "AUTH PLAIN " + plain_b64(i), "QUIT"]),
    "imap-starttls": ("imap", "imap", lambda i: [
        f"a1 LOGIN demo@example.test {i.password}", "a2 SELECT INBOX",
        "a3 LOGOUT"]),
    "imaps": ("imaps", None, lambda i: [
        f"a1 LOGIN demo@example.test {i.password}", "a2 SELECT INBOX",
        "a3 LOGOUT"]),
    "pop3-starttls": ("pop3", "pop3", lambda i: [
        "USER demo@example.test", "PASS " + i.password, "STAT", "QUIT"]),
    "pop3s": ("pop3s", None, lambda i: [
        "USER demo@example.test", "PASS " + i.password, "STAT", "QUIT"]),
}
# the same over TLS 1.2 (the lowest version Tempest accepts)
TLS12 = {"smtp-starttls-tls1.2": "smtp-starttls", "imaps-tls1.2": "imaps",
         "pop3-starttls-tls1.2": "pop3-starttls"}


@pytest.mark.parametrize("case", sorted(CASES) + sorted(TLS12))
def test_s_client(inst, case):
    extra = ["-tls1_2"] if case in TLS12 else []
    port_name, starttls, cmds = CASES[TLS12.get(case, case)]
    # with -tls1_2 the client offers nothing else: the checks below
    # can only pass over a TLS 1.2 session
    p = s_client(inst, port_name, starttls, cmds(inst), extra)
    out, err = p.stdout, p.stderr
    # the certificate: Tempest's, verified with it as the trust anchor
    assert "CN = mail.example.test" in err, err
    assert "verify return:1" in err and "verify error" not in err, err
    lines = out.splitlines()
    if port_name in ("smtp", "submission", "smtps"):
        ehlo = [ln for ln in lines if ln.startswith("250")]
        assert ehlo and ehlo[0].startswith("250-mail.example.test"), out
        # inside TLS: no STARTTLS offered again
        assert not [ln for ln in ehlo if "STARTTLS" in ln], out
        if port_name != "smtp":
            assert any("AUTH" in ln and "PLAIN" in ln for ln in ehlo), out
            assert any(ln.startswith("235 ") for ln in lines), out
        assert lines[-1].startswith("221 "), out
    elif port_name.startswith("imap"):
        assert any(ln.startswith("a1 OK") for ln in lines), out
        assert any(ln.startswith("a2 OK") and "READ-WRITE" in ln
                   for ln in lines), out
        assert any(ln.startswith("* BYE") for ln in lines), out
        assert lines[-1].startswith("a3 OK"), out
    else:
        assert any(ln.startswith("+OK") and "Logged in" in ln
                   for ln in lines), out
        stat = [ln for ln in lines if ln.split()[1:2] and
                ln.split()[1].isdigit() and ln.startswith("+OK ")]
        assert stat, out
        assert lines[-1].startswith("+OK"), out
    # the server closed the TLS session with close_notify
    assert "unexpected eof" not in err, err
    assert p.returncode == 0, (p.returncode, err)
