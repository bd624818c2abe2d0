"""The per-user vacation setting: a .vacation.msg in a virtual user's
Maildir turns on RFC 3834 auto-replies with no recipe; the message itself
is delivered as usual and each sender gets one reply per interval."""
import email
import os
import smtplib

from conftest import wait_for

DEMO = "demo@example.test"
BOB = "bob@example.test"


def test_vacation_file_without_recipe(instance):
    # a second virtual user to receive the reply
    users = os.path.join(instance.etc, "users")
    with open(users) as f:
        demo_line = [l for l in f if l.startswith(DEMO + ":")][0]
    with open(users, "a") as f:
        f.write(demo_line.replace(DEMO, BOB).replace("example.test/demo/",
                                                     "example.test/bob/"))
    vac = os.path.join(instance.maildir(), ".vacation.msg")
    with open(vac, "w") as f:
        f.write("Subject: away until Monday\n\nI am away; your mail waits.\n")
    os.chmod(vac, 0o644)
    for i in range(2):
        with smtplib.SMTP("127.0.0.1", instance.smtp_port) as s:
            s.sendmail(BOB, [DEMO], (f"From: Bob <{BOB}>\r\nTo: {DEMO}\r\n"
                                     f"Message-ID: <m{i}@example.test>\r\n"
                                     f"Subject: question {i}\r\n\r\nhi\r\n").encode())
        # deliveries run in parallel: let the first land before the second
        # is sent so that the reply is known to answer m0
        assert len(instance.wait_messages(i + 1)) == i + 1
    # both messages are in demo's inbox
    assert len(instance.wait_messages(2)) == 2
    # bob gets exactly one auto-reply
    replies = instance.wait_messages(1, user="bob")
    assert len(replies) == 1
    assert wait_for(lambda: "removed" in instance.log(), 5)
    with open(replies[0], "rb") as f:
        m = email.message_from_bytes(f.read())
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["In-Reply-To"] == "<m0@example.test>"
    assert "away until Monday" in m["Subject"]
    assert m["Return-Path"] == "<>"
    import time
    time.sleep(1)
    # still one: the second message got no reply
    assert len(instance.messages(user="bob")) == 1, \
        (os.path.isdir(instance.maildir("bob")) and
         [(d, os.listdir(os.path.join(instance.maildir("bob"), d)))
          for d in ("tmp", "new", "cur")], instance.log())
