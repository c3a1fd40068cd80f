#!/usr/bin/env bash
# stop.sh DIR — stop the Postfix and Dovecot that setup.sh DIR started.
# The configuration, logs and mail stay in DIR; remove it yourself.
set -uo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
DIR=$(cd "$1" && pwd) || exit 1
status=0
if [[ -f $DIR/postfix/main.cf ]]; then
	postfix -c "$DIR/postfix" stop >/dev/null 2>&1 || status=1
fi
if [[ -f $DIR/dovecot/dovecot.conf ]]; then
	doveadm -c "$DIR/dovecot/dovecot.conf" stop 2>/dev/null || status=1
fi
exit $status
