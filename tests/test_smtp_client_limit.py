"""Client connection limits across smtpd processes (Postfix's anvil):
smtpd_client_connection_count_limit and smtpd_client_connection_rate_limit
are counted by the anvil service for all smtpd processes together; the
next connection gets 421 4.7.0.  smtpd_client_event_limit_exceptions
(default $mynetworks) are not limited.  Without anvil, smtpd serves
everyone (fail open) and logs a warning.

Each smtpd process here serves one session at a time
(smtpd_process_session_limit = 1, maxproc 4), so held sessions sit in
different processes: a per-process count could never refuse them."""
import os
import re
import signal
import socket

from conftest import wait_for

CONNECT = re.compile(r"smtpd\[(\d+)\]: connect from unknown\[127\.0\.0\.1\]")


def four_processes(text):
    # the plain SMTP listener: maxproc 4
    return re.sub(r"^(127\.0\.0\.1:\d+\s+inet\s+n\s+-\s+n\s+-\s+)-(\s+smtpd)$",
                  r"\g<1>4\2", text, count=1, flags=re.M)


def no_anvil(text):
    return re.sub(r"^anvil\s.*\n", "", text, flags=re.M)


def connect(inst):
    """(socket, file, greeting line)"""
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=60)
    f = s.makefile("rb")
    return s, f, f.readline().decode()


def close(held):
    for c, cf, _ in held:
        cf.close()
        c.close()


def start(make_instance, name, edit=four_processes, **extra):
    inst = make_instance(name, extra=dict(
        {"smtpd_process_session_limit": "1",
         # 127.0.0.1 is outside mynetworks: the limits apply
         "mynetworks": "192.0.2.0/24"}, **extra))
    inst.edit_master_cf(edit)
    inst.start()

    # start() probes the port: wait until smtpd has seen that session end
    # (it counts until then)
    def probe_done():
        log = inst.log()
        n = log.count(": connect from unknown[127.0.0.1]")
        return n >= 1 and n == log.count(": disconnect from unknown[127.0.0.1]")
    assert wait_for(probe_done, 30), inst.log()
    return inst


def served(inst, held):
    """One more connection: True (kept in held) if it got 220."""
    c, cf, g = connect(inst)
    if g.startswith("220 "):
        held.append((c, cf, g))
        return True
    cf.close()
    c.close()
    return False


def test_count_limit_across_processes(make_instance):
    inst = start(make_instance, "climit",
                 smtpd_client_connection_count_limit="2")
    held = [connect(inst) for _ in range(2)]
    for _, _, greeting in held:
        assert greeting.startswith("220 "), greeting
    # the two sessions are served by two different smtpd processes
    pids = CONNECT.findall(inst.log())[-2:]
    assert len(set(pids)) == 2, inst.log()
    s, f, greeting = connect(inst)
    assert greeting.startswith("421 4.7.0 ") and \
        "Error: too many connections from 127.0.0.1" in greeting, greeting
    assert f.readline() == b""          # and the server closed it
    f.close()
    s.close()
    assert wait_for(lambda: "Connection concurrency limit exceeded: 3 from "
                    "unknown[127.0.0.1] for service 127.0.0.1:%d"
                    % inst.smtp_port in inst.log(), 20), inst.log()
    # once one session ends, a new one is served again
    close(held[:1])
    held = held[1:]
    assert wait_for(lambda: served(inst, held), 30), inst.log()
    close(held)
    assert "anvil service" not in inst.log()


def test_sessions_of_a_killed_smtpd_are_released(make_instance):
    # anvil forgets the sessions of an smtpd that dies without saying
    # goodbye (its connection to anvil ends)
    inst = start(make_instance, "ckill",
                 smtpd_client_connection_count_limit="1")
    held = [connect(inst)]
    assert held[0][2].startswith("220 "), held[0][2]
    pid = int(CONNECT.findall(inst.log())[-1])
    s, f, greeting = connect(inst)
    assert greeting.startswith("421 4.7.0 "), greeting
    f.close()
    s.close()
    os.kill(pid, signal.SIGKILL)
    close(held)
    held = []
    assert wait_for(lambda: served(inst, held), 30), inst.log()
    close(held)


def test_rate_limit(make_instance):
    inst = start(make_instance, "crate",
                 smtpd_client_connection_count_limit="0",
                 smtpd_client_connection_rate_limit="4",
                 anvil_rate_time_unit="1h")
    # the port probe was one connection of this hour already (or more)
    probes = len(CONNECT.findall(inst.log()))
    assert 1 <= probes < 4, inst.log()
    for _ in range(4 - probes):
        held = []
        assert served(inst, held), inst.log()
        close(held)
    s, f, greeting = connect(inst)
    assert greeting.startswith("421 4.7.0 ") and \
        "too many connections from 127.0.0.1" in greeting, greeting
    f.close()
    s.close()
    assert wait_for(lambda: "Connection rate limit exceeded: 5 from "
                    "unknown[127.0.0.1]" in inst.log(), 20), inst.log()


def test_exceptions_are_not_limited(make_instance):
    inst = start(make_instance, "cexcept",
                 smtpd_client_connection_count_limit="1",
                 smtpd_client_connection_rate_limit="1",
                 smtpd_client_event_limit_exceptions="127.0.0.1/32")
    held = [connect(inst) for _ in range(3)]
    for _, _, greeting in held:
        assert greeting.startswith("220 "), greeting
    close(held)
    assert "limit exceeded" not in inst.log()


def test_mynetworks_is_the_default_exception(make_instance):
    inst = start(make_instance, "cmynet",
                 mynetworks="127.0.0.0/8",
                 smtpd_client_connection_count_limit="1")
    held = [connect(inst) for _ in range(3)]
    for _, _, greeting in held:
        assert greeting.startswith("220 "), greeting
    close(held)


def test_without_anvil_smtpd_fails_open(make_instance):
    inst = start(make_instance, "cnoanvil",
                 edit=lambda t: no_anvil(four_processes(t)),
                 smtpd_client_connection_count_limit="1")
    held = [connect(inst) for _ in range(3)]
    for _, _, greeting in held:
        assert greeting.startswith("220 "), greeting
    # a mail goes through too
    c, cf, _ = held[0]
    for cmd, code in ((b"EHLO x", b"250 "), (b"MAIL FROM:<a@example.org>", b"250"),
                      (b"RCPT TO:<demo@example.test>", b"250"),
                      (b"DATA", b"354")):
        c.sendall(cmd + b"\r\n")
        line = cf.readline()
        while line[3:4] == b"-":
            line = cf.readline()
        assert line.startswith(code), (cmd, line)
    c.sendall(b"Subject: t\r\n\r\nhi\r\n.\r\n")
    assert cf.readline().startswith(b"250 "), inst.log()
    close(held)
    assert wait_for(lambda: "client connection limits are not enforced"
                    in inst.log(), 20), inst.log()
    assert inst.wait_messages(1), inst.log()


def test_limits_after_reload(make_instance):
    # a reload starts a new anvil with the new smtpd processes; the old
    # one ends with the last old smtpd, and the limit holds again
    inst = start(make_instance, "creload",
                 smtpd_client_connection_count_limit="1")
    old_anvil = inst.pids("anvil")
    assert len(old_anvil) == 1, old_anvil
    held = [connect(inst)]
    assert held[0][2].startswith("220 "), held[0][2]
    old_smtpd = inst.pids("smtpd")
    p = inst.cmd("reload")
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: [x for x in inst.pids("anvil")
                             if x not in old_anvil], 20), inst.log()
    close(held)
    # the old generation (its smtpd processes, then its anvil) goes away
    assert wait_for(lambda: not any(x in inst.pids("smtpd") for x in old_smtpd)
                    and not any(x in inst.pids("anvil") for x in old_anvil),
                    30), inst.log()
    held = []
    assert wait_for(lambda: served(inst, held), 30), inst.log()
    s, f, greeting = connect(inst)
    assert greeting.startswith("421 4.7.0 "), greeting
    f.close()
    s.close()
    close(held)
    assert "anvil service" not in inst.log()
