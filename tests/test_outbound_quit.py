"""The smtp client ends every session with QUIT (RFC 5321 4.1.1.10),
also when the session ran over STARTTLS (idle timeout, and when a
reload drains the process), and when it gives up on a server that offers
no STARTTLS under smtp_tls_security_level = encrypt.
(Found against a real Postfix, tests/test_interop_postfix.py: cached
TLS sessions were dropped without QUIT when their idle time ran out.)"""
import os
import shutil
import smtplib
import tempfile

from conftest import wait_for
from outbound_util import SMTPServer, make_cert


def sender(make_instance, srv, level):
    snd = make_instance("sender", extra={
        "transport_maps": "texthash:$config_directory/transport",
        "smtp_tls_security_level": level,
        "smtp_connection_cache_time_limit": "1s"})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"remote.test  smtp:[127.0.0.1]:{srv.port}\n")
    return snd.start()


def send(inst):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("demo@example.test", ["bob@remote.test"],
                   b"From: demo@example.test\r\nTo: bob@remote.test\r\n"
                   b"Subject: quit\r\n\r\nhi\r\n")


def test_cached_tls_session_ends_with_quit(make_instance):
    d = tempfile.mkdtemp(prefix="tempest-cert-")
    srv = SMTPServer(tls=make_cert(d))
    try:
        snd = sender(make_instance, srv, "may")
        send(snd)
        assert wait_for(lambda: srv.messages, 30), snd.log()
        assert srv.messages[0]["tls"] is True
        # the cached session idles out (1s) and is closed with QUIT,
        # sent inside TLS
        assert wait_for(lambda: "QUIT" in srv.commands, 30), srv.commands
        cmds = srv.commands
        assert cmds.index("QUIT") > cmds.index("STARTTLS")
        assert wait_for(lambda: srv.current == 0, 30)
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_encrypt_without_starttls_ends_with_quit(make_instance):
    srv = SMTPServer()          # offers no STARTTLS
    try:
        snd = sender(make_instance, srv, "encrypt")
        send(snd)
        assert wait_for(lambda: "status=deferred" in snd.log(), 30), snd.log()
        assert "TLS is required, but was not offered" in snd.log()
        assert wait_for(lambda: "QUIT" in srv.commands, 30), srv.commands
        assert not [c for c in srv.commands if c.upper().startswith("MAIL")]
        assert srv.messages == []
    finally:
        srv.stop()


def test_cached_tls_session_quits_when_smtp_drains(make_instance):
    """A reload drains the smtp process, which exits as soon as qmgr's
    connections are gone: the QUIT of its cached TLS session must not
    wait for a later turn of the event loop."""
    d = tempfile.mkdtemp(prefix="tempest-cert-")
    srv = SMTPServer(tls=make_cert(d))
    try:
        snd = make_instance("sender", extra={
            "transport_maps": "texthash:$config_directory/transport",
            "smtp_tls_security_level": "may",
            "smtp_connection_cache_time_limit": "60s"})
        with open(os.path.join(snd.etc, "transport"), "w") as f:
            f.write(f"remote.test  smtp:[127.0.0.1]:{srv.port}\n")
        snd.start()
        send(snd)
        assert wait_for(lambda: srv.messages, 30), snd.log()
        assert wait_for(lambda: "status=sent" in snd.log(), 30)
        assert "QUIT" not in srv.commands
        assert snd.cmd("reload").returncode == 0
        assert wait_for(lambda: "QUIT" in srv.commands, 30), srv.commands
        assert srv.commands.index("QUIT") > srv.commands.index("STARTTLS")
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
