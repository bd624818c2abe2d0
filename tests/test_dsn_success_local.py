"""Success notices (RFC 3461 NOTIFY=SUCCESS, RFC 3464 reports) for local
delivery: a virtual Maildir user gets the mail and the sender a
"delivered" notice (one for the recipients of a message that finish
together), with ENVID, ORCPT and RET honoured; NOTIFY=NEVER, NOTIFY=FAILURE
and mail from the null sender get none.  doc/dsn.md."""
import os

from dsn_success_util import (add_users, by_final, notices, plain, read,
                              send_dsn, success_logged, wait_notices,
                              wait_removed)


def make(make_instance, **extra):
    inst = make_instance("dsn", extra=extra)
    add_users(inst, "bob", "carol")
    return inst.start()


def test_delivered_notice_fields(make_instance):
    inst = make(make_instance)
    qid = send_dsn(inst, [
        ("bob@example.test", ["NOTIFY=SUCCESS",
                              "ORCPT=rfc822;Bob.Original@example.test"]),
        ("carol@example.test", ["NOTIFY=SUCCESS,FAILURE"]),
    ], envid="env-ABC.42", subject="success please")
    assert len(inst.wait_messages(1, user="bob")) == 1, inst.log()
    assert len(inst.wait_messages(1, user="carol")) == 1, inst.log()
    wait_removed(inst, qid)
    got = wait_notices(inst, 1)
    assert len(got) == 1, inst.log()
    m, msg_fields, rcpts, third = got[0]
    # from MAILER-DAEMON with the null envelope sender
    assert m["From"].startswith("MAILER-DAEMON@mail.example.test")
    assert m["Return-Path"] == "<>"
    assert m["To"] == "demo@example.test"
    assert m["Subject"] == "Successful Mail Delivery Report"
    assert m.get_param("report-type") == "delivery-status"
    human = m.get_payload()[0]
    assert human.get_content_type() == "text/plain"
    assert "successfully delivered" in human.get_payload()
    assert plain(msg_fields["Reporting-MTA"]) == "dns; mail.example.test"
    assert msg_fields["Original-Envelope-Id"] == "env-ABC.42"
    assert msg_fields["Arrival-Date"]
    # one notice for both recipients of the message
    f = by_final(rcpts)
    assert sorted(f) == ["bob@example.test", "carol@example.test"], rcpts
    bob = f["bob@example.test"]
    assert bob["Action"] == "delivered"
    assert bob["Status"] == "2.0.0"
    assert plain(bob["Original-Recipient"]) == \
        "rfc822;Bob.Original@example.test"
    assert bob["Remote-MTA"] is None
    assert bob["Diagnostic-Code"].startswith("X-Tempest;")
    assert f["carol@example.test"]["Action"] == "delivered"
    # RET=HDRS is the default of a success notice: the header only
    assert third.get_content_type() == "text/rfc822-headers"
    text = third.get_payload()
    assert "Subject: success please" in text
    assert "The body line." not in text
    # the notice itself asks for nothing
    assert success_logged(inst, qid)


def test_ret_full_returns_the_message(make_instance):
    inst = make(make_instance)
    qid = send_dsn(inst, [("bob@example.test", ["NOTIFY=SUCCESS"])],
                   ret="FULL", subject="full copy")
    wait_removed(inst, qid)
    got = wait_notices(inst, 1)
    assert len(got) == 1, inst.log()
    m, msg_fields, rcpts, third = got[0]
    assert msg_fields["Original-Envelope-Id"] is None
    assert rcpts[0]["Original-Recipient"] is None
    assert third.get_content_type() == "message/rfc822"
    inner = third.get_payload()[0]
    assert inner["Subject"] == "full copy"
    assert "The body line." in inner.get_payload()


def test_no_notice_for_never_failure_default_or_null_sender(make_instance):
    inst = make(make_instance)
    quiet = send_dsn(inst, [
        ("bob@example.test", ["NOTIFY=NEVER"]),
        ("carol@example.test", ["NOTIFY=FAILURE,DELAY"]),
        ("demo@example.test", []),
    ], subject="no notice")
    null = send_dsn(inst, [("bob@example.test", ["NOTIFY=SUCCESS"])],
                    sender="", subject="from the null sender")
    for q in (quiet, null):
        wait_removed(inst, q)
    assert len(inst.wait_messages(2, user="bob")) == 2, inst.log()
    # qmgr writes a notice before it logs the message removed: none was
    assert not success_logged(inst, quiet), inst.log()
    assert not success_logged(inst, null), inst.log()
    # a marker after them gets its notice, and only that one is there
    marker = send_dsn(inst, [("carol@example.test", ["NOTIFY=SUCCESS"])],
                      subject="marker")
    wait_removed(inst, marker)
    got = wait_notices(inst, 1)
    assert len(got) == 1, inst.log()
    assert list(by_final(got[0][2])) == ["carol@example.test"]
    assert len(notices(inst)) == 1
    # the null sender's message was delivered normally
    subjects = sorted(read(p)["Subject"] for p in inst.messages(user="bob"))
    assert subjects == ["from the null sender", "no notice"]


def test_notice_per_message(make_instance):
    inst = make(make_instance)
    q1 = send_dsn(inst, [("bob@example.test", ["NOTIFY=SUCCESS"])],
                  envid="one")
    q2 = send_dsn(inst, [("carol@example.test", ["NOTIFY=SUCCESS"])],
                  envid="two")
    for q in (q1, q2):
        wait_removed(inst, q)
    got = wait_notices(inst, 2)
    assert len(got) == 2, inst.log()
    # delivered in any order: match the notices by their envelope id
    envids = sorted(g[1]["Original-Envelope-Id"] for g in got)
    assert envids == ["one", "two"]
    for _, fields, rcpts, _ in got:
        want = "bob" if fields["Original-Envelope-Id"] == "one" else "carol"
        assert list(by_final(rcpts)) == [f"{want}@example.test"]
    assert os.path.isdir(inst.maildir("bob"))
