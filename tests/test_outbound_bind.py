"""smtp_bind_address: outgoing SMTP connections come from the configured
local address (127.0.0.3 here; any 127/8 address is local on Linux)."""
from conftest import wait_for
from outbound_util import SMTPServer
from test_outbound_retry import make_sender
from test_outbound_smtp import send


def test_bind_address(make_instance):
    srv = SMTPServer()
    try:
        snd = make_sender(make_instance, srv, smtp_bind_address="127.0.0.3")
        send(snd, ["bob@remote.test"], subject="from .3")
        assert wait_for(lambda: len(srv.messages) == 1, 30), snd.log()
        assert srv.peers and set(srv.peers) == {"127.0.0.3"}, srv.peers
    finally:
        srv.stop()


def test_bad_bind_address_is_a_config_error(make_instance):
    srv = SMTPServer()
    try:
        snd = make_sender(make_instance, srv, smtp_bind_address="not-an-ip")
        send(snd, ["bob@remote.test"], subject="never")
        assert wait_for(lambda: "smtp_bind_address: not an IPv4 address"
                        in snd.log(), 30), snd.log()
        assert srv.messages == []
    finally:
        srv.stop()
