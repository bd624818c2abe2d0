"""smtp_tls_security_level = verify: a handshake the client stops on its
own certificate check is deferred with 4.7.5 and the reason (untrusted
issuer, name mismatch), not "TLS handshake failed: I/O error".  (Found
against a real Postfix, tests/test_interop_postfix.py.)"""
import os
import shutil
import smtplib
import tempfile

from conftest import wait_for
from outbound_util import SMTPServer, make_cert


def deferred_line(make_instance, name, srv, cafile):
    snd = make_instance(name, extra={
        "transport_maps": "texthash:$config_directory/transport",
        "smtp_tls_security_level": "verify",
        "smtp_tls_CAfile": cafile})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"remote.test  smtp:[127.0.0.1]:{srv.port}\n")
    snd.start()
    with smtplib.SMTP("127.0.0.1", snd.smtp_port, timeout=30) as s:
        s.sendmail("demo@example.test", ["bob@remote.test"],
                   b"Subject: verify\r\n\r\nhi\r\n")
    assert wait_for(lambda: "status=deferred" in snd.log(), 30), snd.log()
    return [ln for ln in snd.log().splitlines() if "status=deferred" in ln][0]


def test_verify_failure_says_why(make_instance):
    d = tempfile.mkdtemp(prefix="tempest-tls-")
    os.makedirs(os.path.join(d, "other"))
    srv = None
    try:
        cert, key = make_cert(d, cn="mx.remote.test")
        other, _ = make_cert(os.path.join(d, "other"), cn="other.test")
        for p in (d, os.path.join(d, "other")):
            os.chmod(p, 0o755)
        srv = SMTPServer(tls=(cert, key))
        # a CA that did not sign the server's certificate
        line = deferred_line(make_instance, "untrusted", srv, other)
        assert "dsn=4.7.5" in line and "certificate not verified" in line, line
        assert "self-signed certificate" in line or "issuer" in line, line
        # the right CA, but the certificate is not for the next hop's name
        line = deferred_line(make_instance, "mismatch", srv, cert)
        assert "dsn=4.7.5" in line and "mismatch" in line, line
        assert srv.messages == []
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(d, ignore_errors=True)
