#!/bin/sh
# run-instance.sh DIR BIN - create the embedded default instance in DIR
# (once; later runs keep your edits) and run it in the foreground.
# Ctrl-C stops master and every service it started.
set -eu
dir=$1
bin=$2
if [ ! -f "$dir/etc/main.cf" ]; then
	# the default instance scans mail like a classic filtering server
	python3 "$(dirname "$0")/instance.py" --filter "$dir"
fi
echo "tempest: SMTP on 127.0.0.1:2525, submission (STARTTLS + AUTH) on 127.0.0.1:2587, SMTPS on 127.0.0.1:2465 for demo@example.test"
echo "tempest: demo password: $(cat "$dir/demo-password") (also in $dir/demo-password)"
exec "$bin" -c "$dir/etc" start-fg
