"""A Maildir delivery tried again after a crash (src/local/maildir.c): the
file an earlier attempt left under the delivery's own name counts as the
delivered copy only if it holds exactly the bytes the delivery writes; a
copy a crash cut short (the virtual agent names its copies before their
fsync, one journal commit per batch) is replaced, a complete one is kept
and not doubled.  The earlier attempts' files are made by hand: the first
attempt is deferred (the Maildir's tmp/ is a plain file), then the files a
crash would leave are put under the names the retry uses."""
import os
import smtplib

from conftest import wait_for

DEMO = "demo@example.test"
HOST = "mail.example.test"      # myhostname of the test instances


def records(path):
    """The records of a queue file (doc/queue-format.md) as a list of
    (offset of the type byte, type, data)."""
    with open(path, "rb") as f:
        raw = f.read()
    assert raw.startswith(b"TEMPEST-QUEUE 1\n")
    pos, out = len(b"TEMPEST-QUEUE 1\n"), []
    while pos < len(raw):
        t = raw[pos:pos + 1]
        colon = raw.index(b":", pos)
        n = int(raw[pos + 1:colon])
        out.append((pos, t.decode(), raw[colon + 1:colon + 1 + n]))
        pos = colon + 1 + n + 1
        if t == b"X":
            break
    return out


def expected_copy(qpath):
    """(Maildir file name, exact bytes) of the copy of the queue file's
    one recipient, as local_copy_message writes it."""
    rec = records(qpath)
    get = {t: d for _, t, d in rec}
    (off, _, rcpt), = [(o, t, d) for o, t, d in rec if t == "R"]
    addr = rcpt.split(b"\t")[0]
    name = f"{int(get['T']) // 1000000}.T{get['I'].decode()}R{off}.{HOST}"
    data = (b"Return-Path: <" + get["S"] + b">\nDelivered-To: " + addr +
            b"\n" + get["M"])
    return name, data


def test_retry_replaces_a_cut_copy_and_keeps_a_complete_one(make_instance):
    inst = make_instance()
    md = inst.maildir()
    st = os.stat(os.path.join(md, "new"))
    tmp = os.path.join(md, "tmp")
    os.rmdir(tmp)
    with open(tmp, "w"):        # first attempts: "create maildir file" fails
        pass
    inst.start()
    for subject in ("cut short", "complete"):
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
            s.sendmail("sender@remote.test", [DEMO],
                       f"Subject: {subject}\n\n{subject} body\n" +
                       "line of the body\n" * 200)
    assert wait_for(lambda: len(inst.queue_messages("deferred")) == 2 and
                    inst.log().count("status=deferred") >= 2, 60), inst.log()
    ids = inst.queue_messages("deferred")
    copies = {}
    for qid in ids:
        name, data = expected_copy(os.path.join(inst.dir, "queue/deferred",
                                                qid))
        copies[b"Subject: cut short" in data] = (qid, name, data)
    cut_id, cut_name, cut_data = copies[True]
    ok_id, ok_name, ok_data = copies[False]
    # what a crash between link and fsync may leave: a name in new/ for
    # a copy cut short, and (other message) a complete copy
    os.unlink(tmp)
    os.mkdir(tmp, 0o700)
    os.chown(tmp, st.st_uid, st.st_gid)
    for name, data in ((cut_name, cut_data[:len(cut_data) // 3]),
                       (ok_name, ok_data)):
        p = os.path.join(md, "new", name)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, st.st_uid, st.st_gid)
        os.chmod(p, 0o600)
    ok_ino = os.stat(os.path.join(md, "new", ok_name)).st_ino
    assert inst.cmd("postqueue", "-f").returncode == 0
    assert wait_for(lambda: inst.queue_empty() and
                    inst.log().count("status=sent") >= 2, 60), inst.log()
    log = inst.log()
    files = sorted(os.path.basename(p) for p in inst.messages())
    assert files == sorted([cut_name, ok_name]), (files, log)
    with open(os.path.join(md, "new", cut_name), "rb") as f:
        assert f.read() == cut_data
    assert f"{cut_id}: {os.path.join(md, 'new', cut_name)}: not the copy " \
        "this delivery writes" in log, log
    # the complete one is the delivered copy: kept as it was, not doubled
    with open(os.path.join(md, "new", ok_name), "rb") as f:
        assert f.read() == ok_data
    assert os.stat(os.path.join(md, "new", ok_name)).st_ino == ok_ino
    assert [l for l in log.splitlines() if ok_id in l and
            "duplicate suppressed" in l], log
    # later deliveries go the batch way (named before their fsync)
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        for i in range(6):
            s.sendmail("sender@remote.test", [DEMO],
                       f"Subject: later {i}\n\nlater {i}\n")
    assert len(inst.wait_messages(8, 60)) == 8, inst.log()
    for p in inst.messages():
        with open(p, "rb") as f:
            body = f.read()
        assert body.startswith(b"Return-Path: <sender@remote.test>\n"
                               b"Delivered-To: demo@example.test\n"), p


def test_copies_reported_only_after_their_fsyncs(make_instance, tmp_path):
    """Order of operations of the virtual agent, seen by strace, for every
    copy it names in new/ (linkat): the copy was written before its name
    appeared; and before the agent's next reply to qmgr (which reports
    it delivered) both the copy and new/ were fsync'ed (the copy before
    or after its link: a batch's copies are named first, so that on ext4
    the fsync of new/ is the batch's one journal commit)."""
    import re
    import time
    inst = make_instance()
    out = tmp_path / "trace"
    inst.start_traced(out, ["linkat", "fsync", "fdatasync", "writev", "write", "sendto"])
    n = 12
    threads_done = []

    def client(k):
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60) as s:
            for i in range(n // 3):
                s.sendmail("a@remote.test", [DEMO],
                           f"Subject: traced {k}.{i}\n\nbody\n")
        threads_done.append(k)
    import threading
    ts = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert len(inst.wait_messages(n, 60)) == n, inst.log()
    # every link and the reply after the last one are in the trace
    wait_for(lambda: out.read_text().count("linkat(") >= n, 20)
    time.sleep(1)
    # a call another process interrupted is printed in two parts ("...
    # <unfinished ...>" and "PID <... name resumed>rest"): joined here,
    # at the place where it returned
    per_pid, pending = {}, {}
    for ln in out.read_text().splitlines():
        pid, _, rest = ln.partition(" ")
        rest = rest.strip()
        m = re.match(r"<\.\.\. \w+ resumed>(.*)", rest)
        if rest.endswith(" <unfinished ...>"):
            pending[pid] = rest[:-len(" <unfinished ...>")]
            continue
        if m and pid in pending:
            rest = pending.pop(pid) + re.sub(r"^(\S*)\s+= ", r"\1 = ",
                                             m.group(1))
        per_pid.setdefault(pid, []).append(rest)
    links = 0
    for pid, lines in per_pid.items():
        for k, ln in enumerate(lines):
            # -y: descriptors (and AT_FDCWD) with their paths
            m = re.match(r'linkat\(AT_FDCWD(?:<[^>]*>)?, "/proc/self/fd/'
                         r'(\d+)", (?:(\d+)<([^>]*/new)>|AT_FDCWD(?:<[^>]*>)?),'
                         r' "([^"]*)"', ln)
            if not m or not ln.endswith("= 0"):
                continue
            links += 1
            fd, newdir = m.group(1), m.group(3) or \
                os.path.dirname(m.group(4))
            reply = next((j for j in range(k + 1, len(lines))
                          if re.match(r'sendto\(\d+<[^>]*>, "TMP1DR\\0\\2',
                                      lines[j])), None)
            assert reply is not None, (pid, ln)
            # the copy's data written before its name appeared (the
            # last write on that descriptor: numbers are reused)
            w = max((j for j in range(k)
                     if re.match(rf"writev?\({fd}<", lines[j])), default=None)
            assert w is not None, (pid, ln)
            # the copy fsync'ed after that, before the reply ("(deleted)":
            # an unnamed file)
            assert any(re.match(rf"fsync\({fd}<[^>]*>(?:\(deleted\))?\)"
                                r"\s*= 0", lines[j])
                       for j in range(w + 1, reply)), (pid, lines[w:reply + 1])
            # new/ fsync'ed after the link, before the reply
            assert any(re.match(rf"fsync\(\d+<{re.escape(newdir)}>\)\s*= 0",
                                lines[j]) for j in range(k + 1, reply)), \
                (pid, ln, lines[k:reply + 1])
    assert links >= n, out.read_text()[-3000:]
