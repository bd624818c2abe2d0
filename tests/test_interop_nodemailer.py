"""The npm client nodemailer submitting to Tempest: the submission port
with STARTTLS required and AUTH PLAIN and LOGIN, SMTPS (implicit TLS),
a binary attachment with a non-ASCII file name and a UTF-8 subject
(RFC 2047 encoded by nodemailer), three messages over one pooled
connection, a UTF-8 envelope sender (SMTPUTF8) with DSN parameters,
checked in the Maildir; a wrong
password and a client that will not do STARTTLS are refused.
nodemailer is installed with npm into tests/.node (gitignored) on first
use; the test is skipped with the reason when node/npm or the registry
is not available."""
import base64
import email
import email.policy
import json
import os
import subprocess

from conftest import wait_for
from interop_util import ensure_npm_package, read_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
ATTACHMENT = bytes(range(256)) * 40 + b"\r\n.\r\nend"
SUBJECT = "Grüße – 日本語 ✓ " + "long " * 15


def run_node(inst, sends, node_path):
    env = dict(os.environ, NODE_PATH=node_path, SENDS=json.dumps(sends),
               SMTP_USER="demo@example.test", SMTP_PASS=inst.password,
               ATTACHMENT_B64=base64.b64encode(ATTACHMENT).decode())
    p = subprocess.run(["node", os.path.join(HERE, "nodemailer_client.js")],
                       capture_output=True, text=True, timeout=180, env=env)
    assert p.stdout.strip(), p.stderr[-2000:]
    return {r.get("tag"): r for r in json.loads(p.stdout.strip().splitlines()[-1])}


def test_nodemailer_submission_and_smtps(make_instance):
    node_path = ensure_npm_package("nodemailer@6", "nodemailer")
    inst = make_instance().start()
    sub, smtps = inst.ports["submission"], inst.ports["smtps"]
    res = run_node(inst, [
        {"tag": "sub-plain", "port": sub, "method": "PLAIN", "subject": SUBJECT},
        {"tag": "sub-login", "port": sub, "method": "LOGIN", "subject": SUBJECT},
        {"tag": "smtps-plain", "port": smtps, "secure": True, "method": "PLAIN",
         "subject": SUBJECT},
        {"tag": "pool", "port": sub, "method": "PLAIN", "subject": SUBJECT,
         "count": 3},
        {"tag": "utf8", "port": sub, "method": "PLAIN", "subject": SUBJECT,
         "from": "jörg@example.test",
         "dsn": {"id": "nm-envid", "return": "headers",
                 "notify": ["failure", "delay"],
                 "recipient": "demo@example.test"}},
        {"tag": "bad-pass", "port": sub, "method": "PLAIN", "pass": "wrong",
         "subject": "x"},
        {"tag": "no-tls", "port": sub, "method": "PLAIN", "ignoreTLS": True,
         "subject": "x"},
    ], node_path)
    assert "error" not in res.get(None, {}), res
    for tag in ("sub-plain", "sub-login", "smtps-plain", "pool", "utf8"):
        assert res[tag]["ok"], res[tag]
        assert set(res[tag]["accepted"]) == {"demo@example.test"}, res[tag]
        assert res[tag]["response"].startswith("250 "), res[tag]
    assert not res["bad-pass"]["ok"] and res["bad-pass"]["code"] == "EAUTH"
    assert res["bad-pass"]["responseCode"] == 535, res["bad-pass"]
    # no STARTTLS: the submission port (smtpd_tls_security_level =
    # encrypt, smtpd_tls_auth_only) neither offers AUTH nor takes MAIL
    assert not res["no-tls"]["ok"], res["no-tls"]

    msgs = inst.wait_messages(7, timeout=60)
    assert len(msgs) == 7, inst.log()[-3000:]
    seen = {}
    for path in msgs:
        raw = read_bytes(path)
        m = email.message_from_bytes(raw, policy=email.policy.default)
        tag = m["Message-ID"].strip("<>").split("@")[0]
        seen[tag] = m
        assert m["Subject"] == SUBJECT, (tag, m["Subject"])
        assert m["From"].addresses[0].display_name == "Jörg Test"
        # nodemailer used SMTPUTF8 (and DSN parameters) for the UTF-8
        # envelope sender
        want = "jörg@example.test" if tag == "utf8" else "demo@example.test"
        assert raw.startswith(f"Return-Path: <{want}>".encode()), raw[:200]
        body = m.get_body(("plain",))
        assert body.get_content() == f"Grüße {tag}\n"
        att = list(m.iter_attachments())
        assert len(att) == 1 and att[0].get_filename() == "données.bin"
        assert att[0].get_content() == ATTACHMENT
        # the trace header: authenticated, over TLS
        assert ("UTF8SMTPSA" if tag == "utf8" else "ESMTPSA") in \
            m["Received"], m["Received"]
    assert sorted(seen) == ["pool-0", "pool-1", "pool-2", "smtps-plain",
                            "sub-login", "sub-plain", "utf8"]
    assert "UTF8SMTPSA" in seen["utf8"]["Received"], seen["utf8"]["Received"]
    log = inst.log()
    # the pool sent its three messages in one session (RSET between)
    assert [ln for ln in log.splitlines() if "disconnect from" in ln
            and "mail=3" in ln and "auth=1" in ln], log[-3000:]
    assert "sasl_method=PLAIN" in log and "sasl_method=LOGIN" in log, log[-3000:]
    assert wait_for(lambda: "authentication failed" in inst.log(), 20), \
        inst.log()[-3000:]
