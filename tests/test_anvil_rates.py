"""Per-client rate limits counted by the anvil service across all smtpd
processes (Postfix's anvil(8) and its smtpd parameters):
smtpd_client_message_rate_limit (MAIL), smtpd_client_recipient_rate_limit
(RCPT), smtpd_client_new_tls_session_rate_limit (STARTTLS and SMTPS
handshakes that make a new TLS session), smtpd_client_auth_rate_limit
(AUTH), with Postfix's replies and log lines; the window of
anvil_rate_time_unit; smtpd_client_event_limit_exceptions; the
"statistics:" lines every anvil_status_update_time; and smtpd serving
everyone when anvil is gone or hangs (fail open).  smtplib where it can
say what is asserted; raw lines (smtputil.Raw) for STARTTLS with a
resumed session, which smtplib cannot ask for.

127.0.0.1 is kept outside mynetworks (and so outside the default
exceptions) unless a test says otherwise.  Rates are asserted with a long
anvil_rate_time_unit (1h) so that a slow build cannot end a window in the
middle; the reset after the time unit is watched with a short one."""
import os
import re
import signal
import smtplib
import socket
import ssl
import time

from conftest import wait_for
from smtputil import Raw

DEMO = "demo@example.test"
HOST = "mail.example.test"
CLIENT = "unknown[127.0.0.1]"


def start(make_instance, name, edit=None, **extra):
    conf = {"mynetworks": "192.0.2.0/24", "anvil_rate_time_unit": "1h",
            # rejected commands are errors: no tarpit, no disconnect here
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            "smtpd_junk_command_limit": "1000"}
    conf.update(extra)
    inst = make_instance(name, extra=conf)
    if edit is not None:
        inst.edit_master_cf(edit)
    inst.start()

    # start() probes the port: wait until that session has ended
    def probe_done():
        log = inst.log()
        n = log.count(": connect from %s" % CLIENT)
        return n >= 1 and n == log.count(": disconnect from %s" % CLIENT)
    assert wait_for(probe_done, 30), inst.log()
    return inst


def service(inst, port="smtp"):
    return "127.0.0.1:%d" % inst.ports[port]


def session(inst, port="smtp"):
    r = Raw(inst.ports[port], timeout=30)
    code, lines = r.reply(timeout=30)
    assert code == 220, lines
    r.expect("EHLO client.test", 250)
    return r


def logged(inst, text, timeout=20):
    assert wait_for(lambda: text in inst.log(), timeout), \
        "%r not in log:\n%s" % (text, inst.log())


def tls_ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    # TLS 1.2: the session to resume is known right after the handshake
    c.maximum_version = ssl.TLSVersion.TLSv1_2
    return c


def starttls(r, ctx, sess=None):
    """STARTTLS on a Raw session; returns the TLS socket."""
    r.expect("STARTTLS", 220)
    r.s = ctx.wrap_socket(r.s, session=sess)
    return r.s


# ---- MAIL ----

def test_message_rate_limit(make_instance):
    inst = start(make_instance, "mrate", smtpd_client_message_rate_limit="3")
    s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
    s.ehlo("client.test")
    for _ in range(3):
        assert s.mail("a@example.org")[0] == 250
        s.rset()
    assert s.mail("a@example.org") == \
        (450, b"4.7.1 Error: too much mail from 127.0.0.1")
    # not fatal: the session goes on, and a refused MAIL counts too
    assert s.noop()[0] == 250
    assert s.mail("a@example.org")[0] == 450
    logged(inst, "Message delivery request rate limit exceeded: 4 from %s "
           "for service %s" % (CLIENT, service(inst)))
    logged(inst, "Message delivery request rate limit exceeded: 5 from")
    # counted for the client address across sessions (and processes)
    s2 = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
    s2.ehlo("client.test")
    assert s2.mail("a@example.org")[0] == 450
    # a message under way stays refused: sendmail() gives up at MAIL
    try:
        s2.sendmail("a@example.org", [DEMO], b"Subject: x\r\n\r\nx\r\n")
        assert False, "accepted"
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 450, e
    s2.quit()
    s.quit()


def test_message_rate_is_per_service(make_instance):
    # anvil keys are SERVICE:ADDRESS: the submission port has its own
    inst = start(make_instance, "mservice", smtpd_client_message_rate_limit="1")
    r = session(inst)
    r.expect("MAIL FROM:<a@example.org>", 250)
    r.expect("RSET", 250)
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 450
    r.close()
    r = Raw(inst.ports["submission"], timeout=30)
    assert r.reply(timeout=30)[0] == 220
    r.expect("EHLO client.test", 250)
    starttls(r, tls_ctx())
    r.expect("EHLO client.test", 250)
    r.expect("MAIL FROM:<a@example.org>", 250)
    r.close()


# ---- RCPT ----

def test_recipient_rate_limit(make_instance):
    inst = start(make_instance, "rrate",
                 smtpd_client_recipient_rate_limit="2")
    s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
    s.ehlo("client.test")
    s.mail("a@example.org")
    assert s.rcpt(DEMO)[0] == 250
    assert s.rcpt("nosuchuser@example.test")[0] == 550   # counted too
    assert s.rcpt(DEMO) == \
        (450, b"4.7.1 Error: too many recipients from 127.0.0.1")
    logged(inst, "Recipient address rate limit exceeded: 3 from %s for "
           "service %s" % (CLIENT, service(inst)))
    # the transaction goes on with the recipient it has
    assert s.data(b"Subject: rate\r\n\r\nbody\r\n")[0] == 250
    s.quit()
    assert len(inst.wait_messages(1)) == 1, inst.log()


# ---- the window ----

def test_rates_start_again_after_the_time_unit(make_instance):
    inst = start(make_instance, "rwindow", anvil_rate_time_unit="2s",
                 smtpd_client_message_rate_limit="1",
                 smtpd_client_recipient_rate_limit="1")
    r = session(inst)

    def mail(rset=True):
        c, lines = r.cmd("MAIL FROM:<a@example.org>")
        if c == 250 and rset:
            r.expect("RSET", 250)
        return c
    # a window of 2s may end between two commands of a slow build: at
    # least one MAIL passes before the first refusal
    codes = []
    for _ in range(50):
        codes.append(mail())
        if codes[-1] == 450:
            break
    assert codes[0] == 250 and codes[-1] == 450, codes
    # the window ends: the first MAIL after it is served again (and its
    # transaction stays open for the RCPTs)
    assert wait_for(lambda: mail(rset=False) == 250, 30, interval=0.2), \
        inst.log()

    # RCPT has its own count in the same window
    def rcpt():
        return r.cmd("RCPT TO:<%s>" % DEMO)[0]
    codes = []
    for _ in range(50):
        codes.append(rcpt())
        if codes[-1] == 450:
            break
    assert codes[0] == 250 and codes[-1] == 450, codes
    assert wait_for(lambda: rcpt() == 250, 30, interval=0.2), inst.log()
    r.expect("QUIT", 221)


# ---- new TLS sessions ----

def test_new_tls_session_rate_starttls(make_instance):
    inst = start(make_instance, "tlsrate",
                 smtpd_client_new_tls_session_rate_limit="1")
    ctx = tls_ctx()
    # 1: a new session, counted (1 of 1)
    r = session(inst)
    tls = starttls(r, ctx)
    assert not tls.session_reused
    r.expect("EHLO client.test", 250)
    sess = tls.session
    r.expect("QUIT", 221)
    r.close()
    # 2: a resumed session is not counted
    r = session(inst)
    tls = starttls(r, ctx, sess)
    assert tls.session_reused
    r.expect("EHLO client.test", 250)
    r.expect("QUIT", 221)
    r.close()
    # 3: a new one goes over the rate after the handshake: 421, closed
    r = session(inst)
    starttls(r, ctx)
    c, lines = r.reply(timeout=30)
    assert lines == ["421 4.7.0 %s Error: too many new TLS sessions from %s"
                     % (HOST, CLIENT)], lines
    assert r.closed(20)
    r.close()
    logged(inst, "New TLS session rate limit exceeded: 2 from %s for "
           "service %s" % (CLIENT, service(inst)))
    # 4: over the rate: STARTTLS itself is refused, the session goes on
    r = session(inst)
    c, lines = r.cmd("STARTTLS")
    assert lines == ["454 4.7.0 Error: too many new TLS sessions from %s"
                     % CLIENT], lines
    r.expect("MAIL FROM:<a@example.org>", 250)
    r.expect("QUIT", 221)
    logged(inst, "Refusing STARTTLS request from %s for service %s"
           % (CLIENT, service(inst)))


def tls_connect(inst, ctx, sess=None):
    s = socket.create_connection(("127.0.0.1", inst.ports["smtps"]), 30)
    return ctx.wrap_socket(s, session=sess)


def smtps_lines(tls):
    """Every line the server sends until it closes."""
    data = b""
    tls.settimeout(30)
    try:
        while True:
            d = tls.recv(4096)
            if not d:
                break
            data += d
    except (ssl.SSLError, ConnectionResetError):
        pass
    return data.decode().splitlines()


def test_new_tls_session_rate_smtps(make_instance):
    inst = start(make_instance, "smtpsrate",
                 smtpd_client_new_tls_session_rate_limit="1")
    ctx = tls_ctx()
    tls = tls_connect(inst, ctx)
    assert tls.recv(4096).startswith(b"220 ")
    sess = tls.session
    tls.sendall(b"QUIT\r\n")
    tls.close()
    # resumed: not counted, served
    tls = tls_connect(inst, ctx, sess)
    assert tls.session_reused
    assert tls.recv(4096).startswith(b"220 ")
    tls.close()
    # a second new session: over the rate after the handshake; the
    # greeting waited for anvil, so the 421 is all the client reads
    tls = tls_connect(inst, ctx)
    lines = smtps_lines(tls)
    assert lines == ["421 4.7.0 %s Error: too many new TLS sessions from %s"
                     % (HOST, CLIENT)], lines
    tls.close()
    logged(inst, "New TLS session rate limit exceeded: 2 from %s for "
           "service %s" % (CLIENT, service(inst, "smtps")))
    # over the rate: no handshake at all, the connection is dropped
    s = socket.create_connection(("127.0.0.1", inst.ports["smtps"]), 30)
    try:
        ctx.wrap_socket(s)
        assert False, "handshake completed"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
        pass
    s.close()
    logged(inst, "Refusing TLS service request from %s for service %s"
           % (CLIENT, service(inst, "smtps")))
    # the plain port has its own count (and TLS there is still fine)
    r = session(inst)
    starttls(r, ctx)
    r.expect("EHLO client.test", 250)
    r.close()


# ---- AUTH ----

def test_auth_rate_limit(make_instance):
    inst = start(make_instance, "authrate", smtpd_client_auth_rate_limit="2",
                 smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no")
    s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
    s.ehlo("client.test")
    s.login(DEMO, inst.password)
    s.quit()
    # another session (another process, maybe): the count goes on
    s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
    s.ehlo("client.test")
    assert s.docmd("AUTH", "NOSUCH")[0] == 504          # counted: 2
    try:
        s.login(DEMO, inst.password)
        assert False, "logged in"
    except smtplib.SMTPAuthenticationError as e:
        assert (e.smtp_code, e.smtp_error) == \
            (450, b"4.7.1 Error: too many AUTH commands from 127.0.0.1"), e
    logged(inst, "AUTH command rate limit exceeded: 3 from %s for service %s"
           % (CLIENT, service(inst)))
    # not fatal
    assert s.mail("a@example.org")[0] == 250
    s.quit()


# ---- exceptions ----

def test_exceptions_are_not_counted(make_instance):
    import base64
    inst = start(make_instance, "rexcept",
                 smtpd_client_event_limit_exceptions="127.0.0.1/32",
                 smtpd_client_message_rate_limit="1",
                 smtpd_client_recipient_rate_limit="1",
                 smtpd_client_new_tls_session_rate_limit="1",
                 smtpd_client_auth_rate_limit="1",
                 smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no")
    plain = base64.b64encode(("\0%s\0%s" % (DEMO, inst.password))
                             .encode()).decode()
    ctx = tls_ctx()
    for _ in range(3):
        r = session(inst)
        starttls(r, ctx)
        r.expect("EHLO client.test", 250)
        r.expect("AUTH NOSUCH", 504)
        r.expect("AUTH PLAIN " + plain, 235)
        for _ in range(3):
            r.expect("MAIL FROM:<a@example.org>", 250)
            r.expect("RCPT TO:<%s>" % DEMO, 250)
            r.expect("RCPT TO:<%s>" % DEMO, 250)
            r.expect("RSET", 250)
        r.expect("QUIT", 221)
        r.close()
    for _ in range(2):
        tls = tls_connect(inst, ctx)
        assert tls.recv(4096).startswith(b"220 ")
        tls.close()
    log = inst.log()
    assert "limit exceeded" not in log and "Refusing" not in log, log


# ---- fail open ----

def no_anvil(text):
    return re.sub(r"^anvil\s.*\n", "", text, flags=re.M)


def test_without_anvil_rates_fail_open(make_instance):
    inst = start(make_instance, "rnoanvil", edit=no_anvil,
                 smtpd_client_message_rate_limit="1",
                 smtpd_client_recipient_rate_limit="1",
                 smtpd_client_auth_rate_limit="1",
                 smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no")
    r = session(inst)
    for _ in range(3):
        r.expect("AUTH NOSUCH", 504)
    for _ in range(3):
        r.expect("MAIL FROM:<a@example.org>", 250)
        r.expect("RCPT TO:<%s>" % DEMO, 250)
        r.expect("RCPT TO:<%s>" % DEMO, 250)
        r.expect("RSET", 250)
    r.expect("QUIT", 221)
    logged(inst, "client connection limits are not enforced")
    assert "limit exceeded" not in inst.log()


def test_hung_anvil_costs_a_short_wait(make_instance):
    # anvil accepts (the kernel does) but never answers: smtpd waits a
    # fraction of a second, serves the client, warns, and leaves anvil
    # alone for a while
    inst = start(make_instance, "rhung",
                 smtpd_client_connection_count_limit="0",
                 smtpd_client_message_rate_limit="2")
    pids = wait_for(lambda: inst.pids("anvil"), 20)
    assert pids, inst.log()
    r = session(inst)
    # this smtpd has talked to anvil (the first question of a process may
    # wait longer: anvil may still be starting)
    r.expect("MAIL FROM:<a@example.org>", 250)
    r.expect("RSET", 250)
    os.kill(pids[0], signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r.expect("MAIL FROM:<a@example.org>", 250)
        took = time.monotonic() - t0
        r.expect("RSET", 250)
        r.expect("MAIL FROM:<a@example.org>", 250)
        r.expect("RSET", 250)
        r.expect("MAIL FROM:<a@example.org>", 250)      # over, not asked
        r.expect("QUIT", 221)
    finally:
        os.kill(pids[0], signal.SIGCONT)
    # the bound is 250 ms; generous slack for a loaded, sanitized build
    assert took < 3.0, took
    logged(inst, "no reply in time: client connection limits are not "
           "enforced")


# ---- statistics ----

def test_statistics_lines(make_instance):
    inst = start(make_instance, "rstats", anvil_status_update_time="1s",
                 smtpd_client_message_rate_limit="5")
    r = session(inst)
    for _ in range(2):
        r.expect("MAIL FROM:<a@example.org>", 250)
        r.expect("RCPT TO:<%s>" % DEMO, 250)
        r.expect("RSET", 250)
    key = "%s:127.0.0.1" % service(inst)
    stamp = r" at [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$"
    pats = [r"statistics: max message rate 2/3600s for \(%s\)" % re.escape(key),
            r"statistics: max connection count 1 for \(%s\)" % re.escape(key),
            r"statistics: max connection rate \d+/3600s for \(%s\)"
            % re.escape(key),
            r"statistics: max cache size 1"]
    for p in pats:
        assert wait_for(lambda: re.search(p + stamp, inst.log(), re.M), 20), \
            (p, inst.log())
    r.expect("QUIT", 221)
    # no recipient limit: anvil was never asked about RCPT
    assert "max recipient rate" not in inst.log()


def test_statistics_at_exit(make_instance):
    # the default anvil_status_update_time (600s) is not reached: the
    # peaks are logged when anvil exits (as Postfix's anvil)
    inst = start(make_instance, "rstatsexit",
                 smtpd_client_auth_rate_limit="3",
                 smtpd_sasl_auth_enable="yes", smtpd_tls_auth_only="no")
    r = session(inst)
    r.expect("AUTH NOSUCH", 504)
    r.expect("AUTH NOSUCH", 504)
    r.expect("QUIT", 221)
    assert "statistics:" not in inst.log()
    inst.stop()
    assert re.search(r"anvil\[\d+\]: statistics: max auth rate 2/3600s for "
                     r"\(%s:127\.0\.0\.1\)" % re.escape(service(inst)),
                     inst.log()), inst.log()
