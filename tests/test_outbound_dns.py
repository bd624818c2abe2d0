"""DNS and TLS details of the outbound path: lib-dns asks only the
configured server (never resolv.conf or the hosts file), certificate
verification against smtp_tls_CAfile with the MX host name, and the
plaintext fallback of opportunistic TLS."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import TEMPEST, wait_for
from outbound_util import DNSServer, SMTPServer, UNBOUND, make_cert
from test_outbound_retry import make_sender
from test_outbound_smtp import send

TEST_DNS = os.path.join(os.path.dirname(TEMPEST), "src", "lib-dns", "test-dns")

needs_unbound = pytest.mark.skipif(not os.path.exists(UNBOUND),
                                   reason="unbound is not installed")


@needs_unbound
@pytest.mark.skipif(shutil.which("strace") is None or
                    not os.path.exists(TEST_DNS),
                    reason="strace or build/src/lib-dns/test-dns missing")
def test_only_the_configured_resolver_is_used():
    dns = DNSServer(["remote.test. IN MX 10 mx1.remote.test.",
                     "mx1.remote.test. IN A 127.0.0.1"])
    try:
        env = dict(os.environ, TEMPEST_TEST_DNS=dns.address,
                   TEMPEST_TEST_MX="remote.test",
                   # LeakSanitizer cannot run under ptrace (ASan builds)
                   ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") +
                                 ":detect_leaks=0").lstrip(":"))
        r = subprocess.run(["strace", "-f", "-e", "trace=%file,connect",
                            TEST_DNS], env=env, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "MX 10 mx1.remote.test" in r.stdout
        assert "A mx1.remote.test 1" in r.stdout
        for f in ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"):
            assert f not in r.stderr
        connects = [l for l in r.stderr.splitlines() if "connect(" in l and
                    "AF_INET" in l]
        assert connects and all(f"htons({dns.port})" in l for l in connects)
    finally:
        dns.stop()


@needs_unbound
def test_tls_verify_with_ca_and_mx_name(make_instance):
    d = tempfile.mkdtemp(prefix="tempest-tls-")
    dns = DNSServer(["secure.test. IN MX 10 mx.secure.test.",
                     "mx.secure.test. IN A 127.0.0.1",
                     "wrongname.test. IN MX 10 other.wrongname.test.",
                     "other.wrongname.test. IN A 127.0.0.1"])
    srv = None
    try:
        cert, key = make_cert(d, cn="mx.secure.test")
        os.chmod(d, 0o755)
        os.chmod(cert, 0o644)
        srv = SMTPServer(tls=(cert, key))
        snd = make_instance("sender", extra={
            "dns_resolver_address": dns.address,
            "smtp_tcp_port": str(srv.port),
            "smtp_tls_security_level": "verify",
            "smtp_tls_CAfile": cert,
            "minimal_backoff_time": "1s"}).start()
        send(snd, ["bob@secure.test"], subject="verified")
        assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
        assert srv.messages[0]["tls"] is True
        assert "Trusted TLS connection established to mx.secure.test" in snd.log()
        # c-ares is loaded when a resolver is set up (dlopen), not linked:
        # the smtp client that looked up the MX maps it, smtpd does not
        needed = subprocess.run(["readelf", "-d", TEMPEST], capture_output=True,
                                text=True)
        assert "NEEDED" in needed.stdout and "libcares" not in needed.stdout
        maps = {role: snd.maps(role) for role in ("smtp", "smtpd")}
        assert "libcares.so.2" in maps["smtp"], snd.pids("smtp")
        assert maps["smtpd"] and "libcares" not in maps["smtpd"]
        # a certificate for another name is not accepted
        send(snd, ["bob@wrongname.test"], subject="wrong name")
        assert wait_for(lambda: "status=deferred" in snd.log(), 15), snd.log()
        assert len(srv.messages) == 1
    finally:
        if srv:
            srv.stop()
        dns.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_opportunistic_tls_falls_back_to_plaintext(make_instance):
    srv = SMTPServer(tls_broken=True)
    try:
        snd = make_sender(make_instance, srv, smtp_tls_security_level="may")
        send(snd, ["bob@remote.test"], subject="fallback")
        assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
        assert srv.messages[0]["tls"] is False
        assert "TLS handshake failed" in snd.log()
    finally:
        srv.stop()
