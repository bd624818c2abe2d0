"""What an IMAP client may make the server hold before it has logged in:
literals before login are bounded by imapd_literal_size_limit, whatever
the command (APPEND's larger message_size_limit needs a login), and so is
the whole command with all its literals."""
import pytest

from imap_helpers import Raw, start_instance


@pytest.fixture
def inst(make_instance):
    return start_instance(make_instance, {"imapd_literal_size_limit": "1024",
                                          "message_size_limit": "1000000",
                                          "imapd_max_line_length": "2048"})


def test_append_literal_before_login_is_bounded(inst):
    r = Raw(inst.ports["imap"])
    r.line()
    # 500 KB is under message_size_limit but over the literal limit
    r.send("a APPEND INBOX {500000}\r\n")
    out = r.line()
    assert out.startswith("a NO [TOOBIG]"), out
    r.send("b NOOP\r\n")
    assert r.line().startswith("b OK"), "server still serves"
    r.s.close()


def test_many_literals_before_login_are_bounded(inst):
    r = Raw(inst.ports["imap"])
    r.line()
    # literals within the per-literal limit, but the command keeps going
    r.send("a LOGIN {1000}\r\n")
    out = r.line()
    refused = False
    for i in range(40):
        if not out.startswith("+"):
            refused = True
            break
        r.send("x" * 1000 + " {1000}\r\n")
        out = r.line()
    assert refused and "TOOBIG" in out, out
    r.s.close()
