"""TLS of the SMTP server with real clients: STARTTLS (swaks --tls,
smtplib, openssl s_client), SMTPS (swaks --tlsc, curl smtps://), session
resumption with TLS 1.2 and 1.3, the protocol/cipher floor, the
Received: header, security level encrypt, and the STARTTLS command
injection defence (CVE-2011-0411).

The default instance (scripts/instance.py) serves submission (STARTTLS +
AUTH required) and SMTPS; its certificate is self-signed, generated on
first start in data/tls/.
"""
import os
import re
import smtplib
import ssl
import stat
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import TEMPEST, stand_in_library, wait_for, wait_port
from smtputil import Raw

DEMO = "demo@example.test"


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture(scope="module")
def tinst():
    """One started default instance shared by the tests here."""
    import conftest
    tmp = tempfile.mkdtemp(prefix="tempest-tls-")
    os.chmod(tmp, 0o755)    # services run as the mail owner
    inst = conftest.Instance(os.path.join(tmp, "i"))
    inst.start()
    wait_port(inst.ports["submission"], proc=inst.proc)
    wait_port(inst.ports["smtps"], proc=inst.proc)
    yield inst
    inst.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def swaks(*args, timeout=30):
    return subprocess.run(["swaks", "--timeout", "10"] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_selfsigned_certificate_generated(tinst):
    crt = os.path.join(tinst.dir, "data", "tls", "server.crt")
    key = os.path.join(tinst.dir, "data", "tls", "server.key")
    # services generate it when they start (master binds the ports first)
    assert wait_for(lambda: os.path.exists(crt) and os.path.exists(key))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext",
                          "subjectAltName", "-in", crt],
                         capture_output=True, text=True, check=True).stdout
    assert "mail.example.test" in out and "127.0.0.1" in out


def test_swaks_starttls_auth_submission(tinst):
    r = swaks("-s", "127.0.0.1", "-p", str(tinst.ports["submission"]),
              "--tls", "--auth", "PLAIN", "--auth-user", DEMO,
              "--auth-password=" + tinst.password, "-f", DEMO, "-t", DEMO,
              "--header", "Subject: swaks tls")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    msgs = tinst.wait_messages(1)
    text = open(msgs[-1]).read()
    # smtpd_tls_received_header = yes in the default instance
    assert re.search(r"\(using TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\)",
                     text), text
    assert "with ESMTPSA id" in text
    log = tinst.log()
    assert re.search(r"Anonymous TLS connection established from "
                     r"unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher", log)
    assert "sasl_method=PLAIN, sasl_username=demo@example.test" in log
    assert tinst.password not in log


def test_swaks_smtps_auth_login(tinst):
    r = swaks("-s", "127.0.0.1", "-p", str(tinst.ports["smtps"]), "--tlsc",
              "--auth", "LOGIN", "--auth-user", DEMO, "--auth-password=" +
              tinst.password, "-f", DEMO, "-t", DEMO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    # the greeting came inside TLS: swaks reports the TLS start before it
    assert r.stdout.index("TLS started") < r.stdout.index("220 ")


def test_smtplib_starttls_login_submission(tinst):
    n0 = len(tinst.messages())
    with smtplib.SMTP("127.0.0.1", tinst.ports["submission"], timeout=15) as s:
        code, caps = s.ehlo("client.test")
        assert b"STARTTLS" in caps
        assert b"AUTH" not in caps          # only inside TLS
        s.starttls(context=client_ctx())
        code, caps = s.ehlo("client.test")
        assert b"STARTTLS" not in caps
        assert b"AUTH PLAIN LOGIN" in caps
        s.login(DEMO, tinst.password)
        s.sendmail(DEMO, [DEMO], b"Subject: smtplib\r\n\r\nover submission\r\n")
    assert len(tinst.wait_messages(n0 + 1)) >= n0 + 1


def test_curl_smtps(tinst, tmp_path):
    msg = tmp_path / "m.txt"
    msg.write_bytes(b"Subject: curl smtps\r\n\r\nhello\r\n")
    n0 = len(tinst.messages())
    r = subprocess.run(["curl", "-sS", "-k", "--url",
                        "smtps://127.0.0.1:%d" % tinst.ports["smtps"],
                        "--user", "%s:%s" % (DEMO, tinst.password),
                        "--mail-from", DEMO, "--mail-rcpt", DEMO,
                        "--upload-file", str(msg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert len(tinst.wait_messages(n0 + 1)) >= n0 + 1
    # a wrong password: curl reports the login failure (67)
    r = subprocess.run(["curl", "-sS", "-k", "--url",
                        "smtps://127.0.0.1:%d" % tinst.ports["smtps"],
                        "--user", "%s:wrong" % DEMO, "--mail-from", DEMO,
                        "--mail-rcpt", DEMO, "--upload-file", str(msg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 67, (r.returncode, r.stderr)


def s_client(port, *args, wait=0.0, saved=False):
    """openssl s_client -starttls smtp; keeps the connection open `wait`
    seconds (TLS 1.3 tickets arrive after the handshake), and with
    saved=True until the -sess_out file is written (up to 20 s more: a
    slow sanitizer build may take longer than `wait`), then QUITs."""
    p = subprocess.Popen(["openssl", "s_client", "-starttls", "smtp",
                          "-connect", "127.0.0.1:%d" % port] + list(args),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    time.sleep(wait)
    if saved:
        sess = args[list(args).index("-sess_out") + 1]
        deadline = time.monotonic() + 20
        while (time.monotonic() < deadline and p.poll() is None and
               not (os.path.exists(sess) and os.path.getsize(sess) > 0)):
            time.sleep(0.1)
    out, _ = p.communicate("QUIT\n", timeout=30)
    return out


@pytest.mark.parametrize("proto", ["-tls1_2", "-tls1_3"])
def test_session_resumption(tinst, tmp_path, proto):
    sess = str(tmp_path / "sess.pem")
    out = s_client(tinst.smtp_port, proto, "-sess_out", sess, wait=1.0, saved=True)
    assert re.search(r"^New, TLSv1\.[23]", out, re.M), out
    assert os.path.getsize(sess) > 0
    out = s_client(tinst.smtp_port, proto, "-sess_in", sess, wait=0.5)
    assert re.search(r"^Reused, TLSv1\.[23]", out, re.M), out


def test_resumption_disabled_by_timeout_zero(make_instance, tmp_path):
    inst = make_instance(extra={"smtpd_tls_session_cache_timeout": "0"}).start()
    sess = str(tmp_path / "sess.pem")
    out = s_client(inst.smtp_port, "-tls1_2", "-sess_out", sess, wait=0.5)
    assert re.search(r"^New, TLSv1\.2", out, re.M), out
    # no session id and no ticket: nothing the client could resume
    assert re.search(r"^    Session-ID: *$", out, re.M), out
    assert "TLS session ticket:" not in out


def test_old_protocols_and_weak_ciphers_refused(tinst):
    for args in (["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                 ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                 ["-tls1_2", "-cipher", "DES-CBC3-SHA:RC4-SHA:NULL-SHA:@SECLEVEL=0"],
                 ["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"]):
        out = s_client(tinst.smtp_port, *args)
        assert not re.search(r"^(New|Reused), TLSv", out, re.M), (args, out)


def test_starttls_injection_discarded(tinst):
    """CVE-2011-0411: `STARTTLS\\r\\nRSET\\r\\n` in one write; the
    plaintext RSET must not be executed inside TLS."""
    r = Raw(tinst.smtp_port)
    assert r.reply()[0] == 220
    r.expect("EHLO inject.test", 250)
    r.send(b"STARTTLS\r\nRSET\r\n")
    code, lines = r.reply()
    assert code == 220 and lines == ["220 2.0.0 Ready to start TLS"]
    assert r.buf == b""                     # nothing else answered in clear
    tls = client_ctx().wrap_socket(r.s)
    tls.settimeout(10)
    tls.sendall(b"NOOP\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        data += tls.recv(4096)
    # exactly one reply: the NOOP's, nothing for the injected RSET
    assert data == b"250 2.0.0 Ok\r\n", data
    tls.sendall(b"QUIT\r\n")
    data = b""
    while b"221" not in data:
        data += tls.recv(4096)
    assert data.startswith(b"221 ")
    tls.close()
    assert wait_for(lambda: "disconnect from unknown[127.0.0.1] ehlo=1 "
                    "starttls=1 noop=1 quit=1" in tinst.log())


def test_starttls_refuses_arguments_and_repeats(tinst):
    r = Raw(tinst.smtp_port)
    r.reply()
    r.expect("EHLO x.test", 250)
    r.expect("STARTTLS now", 501)
    r.expect("MAIL FROM:<a@remote.test>", 250)
    r.expect("STARTTLS", 503)               # inside a transaction
    r.expect("RSET", 250)
    r.expect("STARTTLS", 220)
    tls = client_ctx().wrap_socket(r.s)
    tls.sendall(b"EHLO x.test\r\nSTARTTLS\r\nQUIT\r\n")
    data = b""
    while b"221 " not in data:
        chunk = tls.recv(4096)
        if not chunk:
            break
        data += chunk
    assert b"554 5.5.1 Error: TLS already active" in data, data
    tls.close()


def test_encrypt_level_requires_starttls(tinst):
    """submission runs with smtpd_tls_security_level=encrypt."""
    r = Raw(tinst.ports["submission"])
    r.reply()
    lines = r.expect("EHLO x.test", 250)
    assert "250-STARTTLS" in lines and not any("AUTH" in l for l in lines)
    r.expect("MAIL FROM:<%s>" % DEMO, 530,
             "530 5.7.0 Must issue a STARTTLS command first")
    r.expect("AUTH PLAIN AGRlbW8AeA==", 538)
    r.expect("QUIT", 221)


def test_tls_none_offers_no_starttls(make_instance):
    inst = make_instance(extra={"smtpd_tls_security_level": "none"}).start()
    r = Raw(inst.smtp_port)
    r.reply()
    lines = r.expect("EHLO x.test", 250)
    assert not any("STARTTLS" in l for l in lines)
    r.expect("STARTTLS", 502)
    r.expect("QUIT", 221)


def test_configured_certificate_and_loglevel(make_instance, tmp_path):
    crt, key = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj",
                    "/CN=configured.example.test"], check=True,
                   capture_output=True)
    inst = make_instance(extra={"smtpd_tls_cert_file": crt,
                                "smtpd_tls_key_file": key,
                                "smtpd_tls_loglevel": "2",
                                "smtpd_tls_received_header": "no"}).start()
    out = s_client(inst.smtp_port, "-tls1_2")
    assert "CN = configured.example.test" in out
    assert wait_for(lambda: "setting up TLS connection from" in inst.log())
    assert wait_for(lambda: "TLS session new" in inst.log())


@pytest.mark.parametrize("proto", ["-tls1_2", "-tls1_3"])
def test_resumption_survives_reload(make_instance, tmp_path, proto):
    """Ticket keys live in data/tls/ticket.key, shared by every smtpd
    process: a session from before `tempest reload` resumes on the new
    generation."""
    inst = make_instance().start()
    sess = str(tmp_path / "sess.pem")
    out = s_client(inst.smtp_port, proto, "-sess_out", sess, wait=1.0, saved=True)
    assert re.search(r"^New, TLSv1\.[23]", out, re.M), out
    old = set(inst.pids("smtpd"))
    assert old
    assert inst.cmd("reload").returncode == 0
    assert wait_for(lambda: inst.pids("smtpd") and
                    not (set(inst.pids("smtpd")) & old), 15)
    out = s_client(inst.smtp_port, proto, "-sess_in", sess, wait=0.5)
    assert re.search(r"^Reused, TLSv1\.[23]", out, re.M), out
    key = os.path.join(inst.dir, "data", "tls", "ticket.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert os.path.getsize(key) == 168


def ticket_key_name(sess):
    """The key name (first 16 bytes) of the ticket in a saved session."""
    p = subprocess.run(["openssl", "sess_id", "-in", sess, "-noout", "-text"],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    hexed = ""
    assert "TLS session ticket:" in out, out
    lines = out.split("TLS session ticket:", 1)[1].splitlines()[1:]
    for line in lines:
        m = re.match(r"\s*[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]+)+)", line)
        if not m:
            break
        hexed += re.sub(r"[^0-9a-f]", "", m.group(1))
    assert len(hexed) >= 32, out
    return bytes.fromhex(hexed[:32])


def test_ticket_keys_rotate(make_instance, tmp_path):
    """The ticket key is replaced once it is smtpd_tls_session_cache_timeout
    old, by an unprivileged smtpd through the key file it keeps open; a
    ticket of the previous key still resumes and is renewed with the new
    key (TLS 1.3: a resumed TLS 1.2 session is not saved again by
    s_client; the unit test covers both)."""
    inst = make_instance(extra={"smtpd_tls_session_cache_timeout": "6s"}).start()
    key = os.path.join(inst.dir, "data", "tls", "ticket.key")
    assert wait_for(lambda: os.path.exists(key) and
                    os.path.getsize(key) == 168, 20)
    with open(key, "rb") as f:
        first = f.read()
    created = int.from_bytes(first[:8], "big")
    # a ticket issued at least 3 s into the key's life ...
    time.sleep(max(0.0, created + 3.0 - time.time()))
    s1 = str(tmp_path / "s1.pem")
    out = s_client(inst.smtp_port, "-tls1_3", "-sess_out", s1, wait=1.0, saved=True)
    assert re.search(r"^New, TLSv1\.3", out, re.M), out
    assert ticket_key_name(s1) == first[8:24]
    # ... is still valid (6 s) when the key has been rotated (at 6 s)
    time.sleep(max(0.0, created + 6.2 - time.time()))
    s2 = str(tmp_path / "s2.pem")
    out = s_client(inst.smtp_port, "-tls1_3", "-sess_in", s1, "-sess_out", s2,
                   wait=1.0, saved=True)
    assert re.search(r"^Reused, TLSv1\.3", out, re.M), out
    with open(key, "rb") as f:
        second = f.read()
    assert len(second) == 168
    assert int.from_bytes(second[:8], "big") >= created + 6
    assert second[8:88] != first[8:88]
    assert second[88:168] == first[8:88]
    assert ticket_key_name(s2) == second[8:24]


def test_openssl_loaded_when_used(tinst, tmp_path):
    """tempest is built against OpenSSL's headers but not linked to it
    (src/lib/ossl.h): a process loads libssl, libcrypto and
    libevent_openssl at its first OpenSSL call.  smtpd, which speaks TLS,
    maps them; qmgr and a command that never calls OpenSSL do not; a
    command that needs it with a libssl.so.3 lacking a function (found
    first through LD_LIBRARY_PATH) fails naming library and function."""
    needed = subprocess.run(["readelf", "-d", TEMPEST],
                            capture_output=True, text=True)
    assert needed.returncode == 0 and "NEEDED" in needed.stdout, needed.stderr
    for lib in ("libssl", "libcrypto", "libevent_openssl"):
        assert lib not in needed.stdout, needed.stdout
    with smtplib.SMTP("127.0.0.1", tinst.ports["submission"], timeout=10) as s:
        s.starttls(context=client_ctx())
        assert s.ehlo()[0] == 250
    smtpd = tinst.maps("smtpd")
    assert "libssl.so.3" in smtpd and "libevent_openssl" in smtpd
    qmgr = tinst.maps("qmgr")
    assert qmgr and "libssl" not in qmgr and "libcrypto" not in qmgr
    # learning a message does not load it; a Message-ID too long for the
    # store's key is shortened with its SHA-256, which does
    db = str(tmp_path / "bayes.db")

    def learn(msg, **env):
        e = dict(os.environ, **env)
        e.pop("TEMPEST_CONFIG_DIR", None)
        return subprocess.run([TEMPEST, "learn", "--ham", "--db", db, str(msg)],
                              capture_output=True, text=True, env=e, timeout=60)
    short = tmp_path / "short.eml"
    short.write_text("From: a@b.example\nMessage-ID: <1@b.example>\n"
                     "Subject: x\n\nsome words here\n")
    r = learn(short, LD_DEBUG="files")
    assert r.returncode == 0, r.stderr
    assert "file=libsqlite3.so.0" in r.stderr and "libssl" not in r.stderr
    long_id = tmp_path / "long.eml"
    long_id.write_text("From: a@b.example\nMessage-ID: <%s@b.example>\n"
                       "Subject: y\n\nother words there\n" % ("x" * 300))
    r = learn(long_id, LD_DEBUG="files")
    assert r.returncode == 0, r.stderr
    assert re.search(r"file=libssl\.so\.3 \[0\];\s+dynamically loaded by", r.stderr)
    lib = stand_in_library(tmp_path, "libssl.so.3")
    long_id.write_text(long_id.read_text().replace("<x", "<z"))
    r = learn(long_id, LD_LIBRARY_PATH=str(lib))
    assert r.returncode != 0
    assert "OpenSSL: libssl.so.3 lacks " in r.stderr, r.stderr


def test_start_without_openssl_fails_at_once(make_instance, tmp_path):
    """The daemons load OpenSSL when they first use it, so a libssl.so.3
    that cannot serve (a stand-in lacking its functions, found first
    through LD_LIBRARY_PATH) is found by `tempest start` itself: it exits
    non-zero naming library and function, and no master stays running;
    with the real library the same instance starts and takes mail."""
    inst = make_instance()
    lib = stand_in_library(tmp_path, "libssl.so.3")
    r = inst.cmd("start", env=dict(os.environ, LD_LIBRARY_PATH=str(lib)))
    assert r.returncode != 0
    assert "OpenSSL: libssl.so.3 lacks " in r.stderr, r.stderr
    st = inst.cmd("status")
    assert st.returncode != 0, st.stdout + st.stderr
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10) as s:
        s.starttls(context=client_ctx())
        s.sendmail("a@remote.test", [DEMO], b"Subject: after\r\n\r\nok\r\n")
    assert inst.wait_messages(1)
