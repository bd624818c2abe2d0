"""RFC 3464 fields of a non-delivery report: a remote server's refusal
is reported as "Diagnostic-Code: smtp; <the reply>" with "Remote-MTA:
dns; <host>" (2.3.5, 2.3.6, as Postfix writes them: bounce processors
look for the smtp diagnostic type); failures of our own (an error:
transport) stay an X-Tempest diagnostic without Remote-MTA.  (Found
comparing with Postfix's reports, tests/test_interop_postfix.py.)"""
import os

from test_outbound_retry import make_sender, server_factory  # noqa: F401
from test_outbound_smtp import dsn_reports, send


def test_remote_refusal_is_an_smtp_diagnostic(make_instance, server_factory):
    srv = server_factory(rcpt_replies=["550 5.1.1 <bob@remote.test>: no such user"])
    snd = make_sender(make_instance, srv)
    with open(os.path.join(snd.etc, "transport"), "a") as f:
        f.write("refused.test error:5.7.1 we do not send there\n")
    send(snd, ["bob@remote.test"], subject="will bounce")
    send(snd, ["x@refused.test"], subject="refused here")
    reps = dsn_reports(snd, 2)
    assert len(reps) == 2, snd.log()
    fields = {}
    for _, part in reps:
        rcpt = part.get_payload()[1]
        fields["".join(rcpt["Final-Recipient"].split())] = rcpt
    remote = fields["rfc822;bob@remote.test"]
    assert remote["Status"] == "5.1.1"
    assert remote["Diagnostic-Code"] == \
        "smtp; 550 5.1.1 <bob@remote.test>: no such user", remote
    assert remote["Remote-MTA"] == "dns; 127.0.0.1", remote
    local = fields["rfc822;x@refused.test"]
    assert local["Status"] == "5.7.1"
    assert local["Diagnostic-Code"].startswith("X-Tempest; "), local
    assert "we do not send there" in local["Diagnostic-Code"]
    assert local["Remote-MTA"] is None
