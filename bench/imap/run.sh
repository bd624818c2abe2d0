#!/bin/sh
# bench/imap/run.sh [sessions] [sizes] - Tempest imapd vs dovecot-imapd
# (memory per idle IDLE session, SELECT + FETCH 1:* (FLAGS)).  As root.
set -eu
cd "$(dirname "$0")/../.."
command -v dovecot >/dev/null || apt-get install -y dovecot-imapd
exec /usr/bin/python3 bench/imap/bench.py --sessions "${1:-1000}" --sizes "${2:-10000,100000}"
