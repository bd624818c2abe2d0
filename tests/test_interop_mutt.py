"""mutt (Debian's, GnuTLS + GNU SASL) in batch mode sending through
Tempest's submission port: smtp_url with STARTTLS required
(ssl_force_tls), Tempest's certificate as the only trusted one
(certificate_file), AUTH PLAIN and LOGIN, and smtps:// (implicit TLS),
a UTF-8 subject, an 8-bit
body and an attachment; the messages are checked in the Maildir.  A
wrong password makes mutt fail and nothing is delivered."""
import email
import email.policy
import os
import shutil
import subprocess

import pytest

from interop_util import read_bytes

MUTT = shutil.which("mutt")
pytestmark = pytest.mark.skipif(MUTT is None,
                                reason="mutt (scripts/packages/interop.test) is not installed")

SUBJECT = "Mutt ✓ Grüße"
ATTACHMENT = bytes(range(256)) * 8


def mutt_send(inst, home, mech, password, tag, url_scheme="smtp",
              port_name="submission"):
    rc = os.path.join(home, f"muttrc-{tag}")
    cert = os.path.join(inst.dir, "data", "tls", "server.crt")
    with open(rc, "w") as f:
        f.write(f'''set smtp_url="{url_scheme}://demo%40example.test@127.0.0.1:{inst.ports[port_name]}/"
set smtp_pass="{password}"
set smtp_authenticators="{mech}"
set ssl_starttls=yes
set ssl_force_tls=yes
set certificate_file="{cert}"
set from="demo@example.test"
set realname="Mutt Tester"
set use_from=yes
set record=""
set copy=no
set hostname="client.example.test"
set charset="utf-8"
set send_charset="utf-8"
set message_id_format="<{tag}.%r@client.example.test>"
''')
    att = os.path.join(home, "data.bin")
    with open(att, "wb") as f:
        f.write(ATTACHMENT)
    env = dict(os.environ, HOME=home, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    return subprocess.run([MUTT, "-n", "-F", rc, "-s", SUBJECT, "-a", att,
                           "--", "demo@example.test"],
                          input=f"Grüße from mutt {tag}\n".encode(),
                          capture_output=True, timeout=90, env=env, cwd=home)


def test_mutt_batch_send(make_instance, tmp_path):
    inst = make_instance().start()
    home = str(tmp_path)
    for mech, tag, scheme, port in (
            ("PLAIN", "plain", "smtp", "submission"),
            ("LOGIN", "login", "smtp", "submission"),
            ("PLAIN", "smtps", "smtps", "smtps")):
        p = mutt_send(inst, home, mech, inst.password, tag, scheme, port)
        assert p.returncode == 0, (mech, p.stdout[-1000:], p.stderr[-1000:],
                                   inst.log()[-2000:])
    p = mutt_send(inst, home, "PLAIN", "wrong-password", "bad")
    assert p.returncode != 0
    msgs = inst.wait_messages(3, timeout=30)
    assert len(msgs) == 3, inst.log()[-3000:]
    tags = set()
    for path in msgs:
        m = email.message_from_bytes(read_bytes(path), policy=email.policy.default)
        tag = m["Message-ID"].strip("<>").split(".")[0]
        tags.add(tag)
        assert m["Subject"] == SUBJECT
        assert "ESMTPSA" in m["Received"] and "client.example.test" in m["Received"]
        assert m.get_body(("plain",)).get_content().strip() == \
            f"Grüße from mutt {tag}"
        att = list(m.iter_attachments())
        assert att[0].get_filename() == "data.bin"
        assert att[0].get_content() == ATTACHMENT
    assert tags == {"plain", "login", "smtps"}
    log = inst.log()
    assert "sasl_method=PLAIN" in log and "sasl_method=LOGIN" in log
    assert "authentication failed" in log
