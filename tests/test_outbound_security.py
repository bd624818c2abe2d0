"""The SMTP client against a hostile server: control characters in a
reply (a bare CR is a line break to some mail readers) do not reach the
DSN sent back to our user, nor the log; they become '?'."""
from test_outbound_retry import make_sender, server_factory  # noqa: F401
from test_outbound_smtp import dsn_reports, send


def test_reply_control_characters_do_not_reach_the_dsn(make_instance,
                                                       server_factory):
    srv = server_factory(rcpt_replies=[
        "550 5.1.1 no such user\rX-Injected: yes\x1b[0m"])
    snd = make_sender(make_instance, srv)
    send(snd, ["bob@remote.test"], subject="will bounce")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    with open(snd.wait_messages(1)[0], "rb") as f:
        raw = f.read()
    assert b"\rX-Injected" not in raw and b"\x1b" not in raw
    assert "no such user?X-Injected: yes?[0m" in \
        reps[0][1].get_payload()[1]["Diagnostic-Code"]
    assert "\x1b" not in snd.log() and "\r" not in snd.log()
