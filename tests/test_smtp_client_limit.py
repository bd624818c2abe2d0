"""smtpd_client_connection_count_limit: one client address (outside
mynetworks) gets at most that many simultaneous sessions from an smtpd
process; the next connection is refused with 421 4.7.0.  Counted per
process, so the tests run one smtpd process (maxproc 1)."""
import re
import socket

from conftest import wait_for


def one_process(text):
    # the plain SMTP listener: maxproc 1
    return re.sub(r"^(127\.0\.0\.1:\d+\s+inet\s+n\s+-\s+n\s+-\s+)-(\s+smtpd)$",
                  r"\g<1>1\2", text, count=1, flags=re.M)


def connect(inst):
    """(socket, greeting line)"""
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    f = s.makefile("rb")
    return s, f, f.readline().decode()


def start(make_instance, name, **extra):
    inst = make_instance(name, extra=dict(
        {"smtpd_client_connection_count_limit": "2"}, **extra))
    inst.edit_master_cf(one_process)
    inst.start()

    # start() probes the port: wait until smtpd has seen that session end,
    # or it would count against the limit
    def probe_done():
        log = inst.log()
        n = log.count(": connect from unknown[127.0.0.1]")
        return n >= 1 and n == log.count(": disconnect from unknown[127.0.0.1]")
    assert wait_for(probe_done, 20), inst.log()
    return inst


def test_third_connection_refused(make_instance):
    # 127.0.0.1 is not in mynetworks here: the limit applies
    inst = start(make_instance, "climit", mynetworks="192.0.2.0/24")
    held = [connect(inst) for _ in range(2)]
    for _, _, greeting in held:
        assert greeting.startswith("220 "), greeting
    s, f, greeting = connect(inst)
    assert greeting.startswith("421 4.7.0 ") and \
        "too many connections from 127.0.0.1" in greeting, greeting
    assert f.readline() == b""          # and the server closed it
    s.close()
    assert wait_for(lambda: "too many connections from unknown[127.0.0.1]"
                    in inst.log(), 20), inst.log()
    # once one session ends, a new one is served again
    held[0][1].close()
    held[0][0].close()

    def served():
        c, cf, g = connect(inst)
        ok = g.startswith("220 ")
        if ok:
            held.append((c, cf, g))
        else:
            cf.close()
            c.close()
        return ok
    assert wait_for(served, 20), inst.log()
    for c, cf, _ in held[1:]:
        cf.close()
        c.close()


def test_mynetworks_exempt(make_instance):
    inst = start(make_instance, "climit2")     # mynetworks 127.0.0.0/8
    held = [connect(inst) for _ in range(3)]
    for _, _, greeting in held:
        assert greeting.startswith("220 "), greeting
    for c, cf, _ in held:
        cf.close()
        c.close()
