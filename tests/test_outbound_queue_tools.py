"""Queue tools beyond the basics: postsuper -h of a message that qmgr is
delivering (held once the attempt ends, through qmgr's trigger),
postsuper -r running the message through cleanup again (virtual aliases
re-expanded), and mailq listing maildrop/ entries as Postfix does."""
import json
import os
import re
import subprocess
import threading
import time

from conftest import wait_for
from outbound_util import SMTPServer
from test_outbound_retry import make_sender
from test_outbound_smtp import send


def queue(inst):
    r = inst.cmd("postqueue", "-j")
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def stuck(snd, srv):
    """What a failed wait shows: the queue, what the server did and where
    its threads are, the sender's log, where each smtp and qmgr process
    sleeps, and the sockets between them with the bytes waiting in each
    (a rare stall of the delivery in full runs on a loaded machine)."""
    procs, pids = [], []
    for role in ("smtp", "qmgr"):
        for pid in snd.pids(role):
            pids.append(pid)
            info = []
            for what in ("stat", "wchan", "syscall", "stack"):
                try:
                    with open(f"/proc/{pid}/{what}") as f:
                        v = f.read().strip()
                except OSError as e:
                    v = str(e)
                if what == "stat":
                    v = v.split(") ", 1)[-1].split()[0]
                info.append(f"{what}={v!r}")
            procs.append(f"{role}[{pid}] " + " ".join(info))
    # Recv-Q/Send-Q of the TCP connections to the server and of the unix
    # sockets of those processes: unread bytes show who did not read
    socks = []
    for args in (["ss", "-tnpoi", f"( sport = :{srv.port} or "
                  f"dport = :{srv.port} )"], ["ss", "-xnp"]):
        try:
            out = subprocess.run(args, capture_output=True, text=True,
                                 timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            out = str(e)
        lines = out.splitlines()
        if args[1] == "-xnp":
            lines = [l for l in lines
                     if any(f"pid={p}," in l for p in pids)]
        socks += lines
    with srv.lock:
        cmds = list(srv.commands)
        trace = list(srv.trace)
    return "\n".join([f"queue: {queue(snd)}", f"commands: {cmds}",
                      f"connections={srv.connections}",
                      f"server trace: {trace}",
                      "processes:", *procs, "sockets:", *socks,
                      "this test process:", *process_state(),
                      "log:", snd.log()])


def process_state():
    """Every thread of this test process, the test SMTP server's
    (smtpserver-PORT-...) among them (its Python stack, and the
    system call it sleeps in with its first argument, a descriptor for
    read/recv), and what each descriptor is: a thread of an earlier test
    still reading a descriptor number the server's connection now has
    would take the bytes the server waits for."""
    import sys
    import traceback
    out = []
    frames = sys._current_frames()
    for t in threading.enumerate():
        f = frames.get(t.ident)
        stack = traceback.extract_stack(f)[-5:] if f is not None else []
        out.append(f"thread {t.name} (native {t.native_id}): " +
                   " <- ".join(f"{os.path.basename(x.filename)}:{x.name}:"
                               f"{x.lineno}" for x in reversed(stack)))
    for tid in sorted(os.listdir("/proc/self/task")):
        try:
            with open(f"/proc/self/task/{tid}/syscall") as f:
                out.append(f"task {tid} syscall {f.read().split()[:2]}")
        except OSError:
            pass
    fds = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            fds.append(f"{fd}={os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            pass
    out.append("descriptors: " + " ".join(fds))
    return out


def delivered(srv, rcpt):
    with srv.lock:
        return any(rcpt in m["to"] for m in srv.messages)


def test_hold_active_message(make_instance):
    # the server answers the final dot only when the test opens the
    # gate, then defers: the message sits in active/ meanwhile
    gate = threading.Event()
    srv = SMTPServer(gate=gate, data_replies=["451 4.3.0 later"] * 100)
    try:
        snd = make_sender(make_instance, srv)
        send(snd, ["bob@remote.test"], subject="held while active")
        assert wait_for(lambda: [m for m in queue(snd)
                                 if m["queue_name"] == "active"] and
                        "DATA" in srv.commands, 30), stuck(snd, srv)
        mid = queue(snd)[0]["queue_id"]
        r = snd.cmd("postsuper", "-h", mid)
        assert r.returncode == 0 and "placed on hold" in r.stdout, r.stderr
        assert "after the current delivery attempt" in r.stdout
        gate.set()
        # qmgr moves it to hold/ (not deferred/) when the attempt ends
        assert wait_for(lambda: [m["queue_name"] for m in queue(snd)] ==
                        ["hold"], 60), stuck(snd, srv)
        assert wait_for(lambda: f"{mid}: placed on hold" in snd.log(), 20)
        line = [l for l in snd.cmd("mailq").stdout.splitlines()
                if l.startswith(mid)][0]
        assert line[12] == "!"
        # a held message is not retried, even by a flush
        conns = srv.connections
        assert snd.cmd("postqueue", "-f").returncode == 0
        time.sleep(2)
        assert srv.connections == conns
        assert [m["queue_name"] for m in queue(snd)] == ["hold"]
        # released, it goes out
        srv.data_replies = []
        assert snd.cmd("postsuper", "-H", mid).returncode == 0
        snd.cmd("flush")
        assert wait_for(lambda: len(srv.messages) == 1, 30), snd.log()
        assert wait_for(lambda: queue(snd) == [], 20)
    finally:
        gate.set()
        srv.stop()


def test_hold_active_all(make_instance):
    gate = threading.Event()
    srv = SMTPServer(gate=gate, data_replies=["451 4.3.0 later"] * 100)
    try:
        snd = make_sender(make_instance, srv)
        send(snd, ["bob@remote.test"], subject="all held")
        assert wait_for(lambda: "DATA" in srv.commands, 30), stuck(snd, srv)
        r = snd.cmd("postsuper", "-h", "ALL")
        assert "Placed on hold: 1 message" in r.stdout, r.stdout
        gate.set()
        assert wait_for(lambda: [m["queue_name"] for m in queue(snd)] ==
                        ["hold"], 60), stuck(snd, srv)
    finally:
        gate.set()
        srv.stop()


def test_requeue_reruns_cleanup(make_instance):
    srv = SMTPServer(rcpt_replies=["451 4.3.0 not now"] * 100)
    try:
        snd = make_sender(make_instance, srv)
        send(snd, ["bob@remote.test"], subject="requeue me")
        assert wait_for(lambda: [m["queue_name"] for m in queue(snd)] ==
                        ["deferred"], 30), snd.log()
        old = queue(snd)[0]["queue_id"]
        # the administrator changes virtual_alias_maps meanwhile
        with open(os.path.join(snd.etc, "virtual"), "a") as f:
            f.write("bob@remote.test  carol@remote.test\n")
        srv.rcpt_replies = []
        r = snd.cmd("postsuper", "-r", old)
        assert r.returncode == 0, r.stderr
        m = re.search(r"requeued as ([0-9A-F]+)", r.stdout)
        assert m and m.group(1) != old, r.stdout
        assert wait_for(lambda: len(srv.messages) == 1, 30), snd.log()
        assert srv.messages[0]["to"] == ["carol@remote.test"]
        assert b"Subject: requeue me" in srv.messages[0]["data"]
        assert wait_for(lambda: queue(snd) == [], 20)
        assert old not in snd.cmd("mailq").stdout
        # the old id is gone for good
        assert snd.cmd("postsuper", "-r", old).returncode != 0
        assert not os.path.exists(os.path.join(snd.dir, "queue", "defer",
                                               old))
    finally:
        srv.stop()


def test_mailq_lists_maildrop(make_instance):
    inst = make_instance("dropper")
    # no pickup: local submissions stay in maildrop/
    inst.edit_master_cf(lambda t: re.sub(r"^pickup .*\n", "", t,
                                         flags=re.M))
    inst.start()
    msg = "Subject: dropped\n\nhello\n"
    r = inst.cmd("sendmail", "-f", "demo@example.test", "x@remote.test",
                 "y@remote.test", input=msg)
    assert r.returncode == 0, r.stderr
    drop = os.path.join(inst.dir, "queue", "maildrop")
    assert wait_for(lambda: os.listdir(drop), 10)
    name = os.listdir(drop)[0]
    q = queue(inst)
    assert len(q) == 1, q
    assert q[0]["queue_name"] == "maildrop"
    assert q[0]["queue_id"] == name
    assert q[0]["sender"] == "demo@example.test"
    assert [x["address"] for x in q[0]["recipients"]] == \
        ["x@remote.test", "y@remote.test"]
    out = inst.cmd("mailq").stdout
    assert re.search(rf"^{name}\s+\d+ .* demo@example.test$", out, re.M), out
    assert "x@remote.test" in out and "in 1 Request." in out


def test_hold_of_a_queued_message(make_instance):
    """postsuper -h of an active message whose job waits for a free
    connection (destination concurrency 1): it goes to hold/ at once,
    while the other message is still being delivered."""
    gate = threading.Event()
    srv = SMTPServer(gate=gate)
    try:
        snd = make_instance("sender", extra={
            "transport_maps": "texthash:$config_directory/transport",
            "smtp_destination_concurrency_limit": "1",
            "smtp_tls_security_level": "none"})
        with open(os.path.join(snd.etc, "transport"), "w") as f:
            f.write(f"remote.test smtp:[127.0.0.1]:{srv.port}\n")
        snd.start()

        send(snd, ["a@remote.test"], subject="first")
        assert wait_for(lambda: "DATA" in srv.commands, 30), stuck(snd, srv)
        send(snd, ["b@remote.test"], subject="second")
        assert wait_for(lambda: len([m for m in queue(snd)
                                     if m["queue_name"] == "active"]) == 2,
                        30), (queue(snd), snd.log())
        second = [m["queue_id"] for m in queue(snd) if
                  m["recipients"][0]["address"] == "b@remote.test"][0]
        r = snd.cmd("postsuper", "-h", second)
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: {m["queue_id"]: m["queue_name"]
                                 for m in queue(snd)}.get(second) == "hold",
                        30), (queue(snd), snd.log())
        # the first one is delivered, the held one is not
        gate.set()
        assert wait_for(lambda: delivered(srv, "a@remote.test"), 30)
        assert wait_for(lambda: [m["queue_name"] for m in queue(snd)] ==
                        ["hold"], 30), queue(snd)
        assert not delivered(srv, "b@remote.test")
    finally:
        gate.set()
        srv.stop()
