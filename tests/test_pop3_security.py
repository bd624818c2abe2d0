"""POP3 STLS forgets what was said in the clear (RFC 2595): a USER given
before STLS (possibly injected by someone on the path) does not count
after it; PASS then needs a USER sent inside TLS."""
import poplib
import ssl

import pytest

from imap_helpers import start_instance

USER = "demo@example.test"
CTX = ssl._create_unverified_context()


@pytest.fixture
def inst(make_instance):
    i = start_instance(make_instance)
    from conftest import wait_port
    wait_port(i.ports["pop3"])
    return i


def test_user_before_stls_is_forgotten(inst):
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"], timeout=30)
    assert p.user(USER).startswith(b"+OK")
    p.stls(context=CTX)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(inst.password)
    assert b"No USER" in e.value.args[0]
    # inside TLS, USER + PASS work as usual
    p.user(USER)
    p.pass_(inst.password)
    p.quit()
