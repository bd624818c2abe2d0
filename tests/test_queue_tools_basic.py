"""Queue tools: mailq / postqueue -p and -j list deferred mail with the
reasons, postsuper -h/-H hold and release, -d deletes, -r requeues, and
flush retries; observed by a scriptable SMTP server that first defers
everything, then accepts."""
import json
import os
import shutil
import smtplib
import time

from conftest import wait_for
from outbound_util import SMTPServer
from test_outbound_retry import make_sender
from test_outbound_smtp import send


def queue(inst):
    r = inst.cmd("postqueue", "-j")
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def test_queue_tools(make_instance):
    srv = SMTPServer(rcpt_replies=["451 4.3.0 not now"] * 100)
    try:
        snd = make_sender(make_instance, srv)
        assert "Mail queue is empty" in snd.cmd("mailq").stdout
        for i in range(4):
            send(snd, ["bob@remote.test"], subject=f"q{i}")
        assert wait_for(lambda: snd.log().count("status=deferred") >= 4, 20), snd.log()
        assert wait_for(lambda: len(queue(snd)) == 4 and all(
            m["queue_name"] == "deferred" for m in queue(snd)), 10), queue(snd)
        q = queue(snd)
        assert all(m["sender"] == "demo@example.test" for m in q)
        assert all(m["recipients"][0]["address"] == "bob@remote.test" for m in q)
        assert all("451 4.3.0 not now" in m["recipients"][0]["delay_reason"]
                   for m in q)
        ids = [m["queue_id"] for m in q]

        out = snd.cmd("mailq").stdout
        for i in ids:
            assert i in out
        assert "(host 127.0.0.1[127.0.0.1] said: 451 4.3.0 not now" in out
        assert "-- " in out and "in 4 Requests." in out
        assert snd.cmd("postqueue", "-p").stdout.splitlines()[0] == \
            out.splitlines()[0]
        assert [json.loads(l)["queue_id"] for l in
                snd.cmd("mailq", "-j").stdout.splitlines()] == ids

        held, deleted, requeued, plain = ids
        r = snd.cmd("postsuper", "-h", held)
        assert r.returncode == 0 and "placed on hold" in r.stdout
        assert "!" in [l for l in snd.cmd("mailq").stdout.splitlines()
                       if l.startswith(held)][0]
        r = snd.cmd("postsuper", "-d", deleted)
        assert r.returncode == 0 and "removed" in r.stdout
        assert deleted not in snd.cmd("mailq").stdout

        # the server accepts from now on
        srv.rcpt_replies = []
        r = snd.cmd("postsuper", "-r", requeued)
        assert r.returncode == 0 and "requeued" in r.stdout
        assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
        time.sleep(1.1)   # minimal_backoff_time of the others
        assert snd.cmd("postqueue", "-f").returncode == 0
        assert wait_for(lambda: len(srv.messages) == 2, 15), snd.log()
        # the held one stays
        time.sleep(0.5)
        assert len(srv.messages) == 2
        assert [m["queue_name"] for m in queue(snd)] == ["hold"]
        subjects = sorted(m["data"].split(b"Subject: ")[1].split(b"\r\n")[0]
                          for m in srv.messages)
        assert b"q1" not in subjects

        r = snd.cmd("postsuper", "-H", held)
        assert r.returncode == 0 and "released" in r.stdout
        snd.cmd("flush")
        assert wait_for(lambda: len(srv.messages) == 3, 15), snd.log()
        assert wait_for(lambda: queue(snd) == [], 10)
        assert "Mail queue is empty" in snd.cmd("mailq").stdout
        # bad arguments
        assert snd.cmd("postsuper", "-d", "NOSUCHID").returncode != 0
        assert snd.cmd("postsuper", "-d", held).returncode != 0
    finally:
        srv.stop()


def test_postsuper_all(make_instance):
    srv = SMTPServer(rcpt_replies=["451 4.3.0 not now"] * 100)
    try:
        snd = make_sender(make_instance, srv)
        for i in range(3):
            send(snd, ["bob@remote.test"], subject=f"a{i}")
        assert wait_for(lambda: len(queue(snd)) == 3 and all(
            m["queue_name"] == "deferred" for m in queue(snd)), 20), snd.log()
        ids = [m["queue_id"] for m in queue(snd)]
        # queue names after the options limit them to those queues
        assert "placed on hold" in snd.cmd("postsuper", "-h", ids[0]).stdout
        r = snd.cmd("postsuper", "-d", "ALL", "deferred", "nosuchqueue")
        assert r.returncode == 2 and "nosuchqueue: not a queue" in r.stderr
        assert len(queue(snd)) == 3
        r = snd.cmd("postsuper", "-d", "ALL", "deferred")
        assert r.returncode == 0 and "Deleted: 2 messages" in r.stdout, r.stderr
        assert [m["queue_id"] for m in queue(snd)] == [ids[0]]
        r = snd.cmd("postsuper", "-d", ids[0], "deferred")
        assert r.returncode == 1 and "no such message" in r.stderr
        for i in range(2):
            send(snd, ["bob@remote.test"], subject=f"b{i}")
        assert wait_for(lambda: len(queue(snd)) == 3 and all(
            m["queue_name"] in ("deferred", "hold") for m in queue(snd)), 20), snd.log()
        r = snd.cmd("postsuper", "-h", "ALL")
        assert "Placed on hold: 2 messages" in r.stdout
        assert [m["queue_name"] for m in queue(snd)] == ["hold"] * 3
        r = snd.cmd("postsuper", "-d", "ALL")
        assert "Deleted: 3 messages" in r.stdout
        assert queue(snd) == []
    finally:
        srv.stop()


def test_postcat(make_instance):
    """postcat -q ID shows a deferred message's envelope (DSN parameters
    included) and its content; -h and -b the header and the body alone;
    a bad or unknown id is said, and the queue is left as it was."""
    srv = SMTPServer(rcpt_replies=["451 4.3.0 not now"] * 100)
    try:
        snd = make_sender(make_instance, srv)
        with smtplib.SMTP("127.0.0.1", snd.smtp_port, timeout=10) as s:
            s.ehlo("client.test")
            s.sendmail("demo@example.test", ["bob@remote.test", "eve@remote.test"],
                       b"Subject: cat me\r\nX-Test: 1\r\n\r\nfirst line\r\n\r\nlast\r\n",
                       mail_options=["RET=HDRS", "ENVID=env-1"],
                       rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        assert wait_for(lambda: len(queue(snd)) == 1 and
                        queue(snd)[0]["queue_name"] == "deferred", 20), queue(snd)
        qid = queue(snd)[0]["queue_id"]
        r = snd.cmd("postcat", "-q", qid)
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert out.startswith(f"*** ENVELOPE RECORDS deferred/{qid} ***\n")
        env = out.split("*** MESSAGE CONTENTS")[0]
        assert "sender: demo@example.test\n" in env
        assert "recipient: bob@remote.test\n" in env and "recipient: eve@remote.test\n" in env
        assert "dsn_envid: env-1\n" in env and "dsn_ret: HDRS\n" in env
        assert "dsn_notify: SUCCESS,FAILURE\n" in env
        assert "message_arrival_time: " in env
        content = out.split(f"*** MESSAGE CONTENTS deferred/{qid} ***\n")[1]
        content = content.split(f"*** MESSAGE FILE END deferred/{qid} ***\n")[0]
        assert content.startswith("Received: from client.test")
        assert "\nSubject: cat me\nX-Test: 1\n" in content
        assert content.endswith("\n\nfirst line\n\nlast\n")
        assert f"message_size: {len(content.encode())}\n" in env
        h = snd.cmd("postcat", "-h", "-q", qid).stdout
        assert "ENVELOPE" not in h and "X-Test: 1\n" in h
        assert h.endswith(f"\n\n*** MESSAGE FILE END deferred/{qid} ***\n")
        assert "first line" not in h
        b = snd.cmd("postcat", "-bq", qid).stdout
        assert "Subject:" not in b
        assert f"CONTENTS deferred/{qid} ***\nfirst line\n\nlast\n***" in b
        e = snd.cmd("postcat", "-e", "-q", qid).stdout
        assert "MESSAGE CONTENTS" not in e and "sender: demo@example.test" in e
        # a copy under another name and mode, as an admin keeps one: read
        # by its path, as Postfix's postcat reads any file
        copy = os.path.join(snd.dir, "kept-copy")
        shutil.copyfile(os.path.join(snd.dir, "queue", "deferred", qid), copy)
        os.chmod(copy, 0o644)
        r = snd.cmd("postcat", "-e", copy)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"*** ENVELOPE RECORDS {copy} ***\n")
        assert "sender: demo@example.test\n" in r.stdout
        with open(copy, "r+b") as f:
            f.truncate(200)     # inside the records
        r = snd.cmd("postcat", copy)
        assert r.returncode == 1 and "truncated or corrupt queue file" in r.stderr
        r = snd.cmd("postcat", "-q", "0123456789AB", "../etc")
        assert r.returncode == 1
        assert "0123456789AB: not in the queue" in r.stderr
        assert "../etc: not a queue id" in r.stderr
        assert [m["queue_id"] for m in queue(snd)] == [qid]
    finally:
        srv.stop()


def test_postqueue_i_delivers_one_now(make_instance):
    """postqueue -i ID takes that deferred message into delivery at once,
    the others wait for their retry time; an id not deferred is said."""
    srv = SMTPServer(rcpt_replies=["451 4.3.0 not now"] * 2)
    try:
        snd = make_sender(make_instance, srv, minimal_backoff_time="1h",
                          maximal_backoff_time="1h")
        for i in range(2):
            send(snd, ["bob@remote.test"], subject=f"i{i}")
        assert wait_for(lambda: len(queue(snd)) == 2 and all(
            m["queue_name"] == "deferred" for m in queue(snd)), 20), snd.log()
        first, second = [m["queue_id"] for m in queue(snd)]
        r = snd.cmd("postqueue", "-i", second)
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
        time.sleep(1)
        assert len(srv.messages) == 1
        assert [m["queue_id"] for m in queue(snd)] == [first]
        r = snd.cmd("postqueue", "-i", second)
        assert r.returncode == 1 and "not in the deferred queue" in r.stderr
        assert snd.cmd("postqueue", "-i", "../x").returncode == 1
    finally:
        srv.stop()
