#!/usr/bin/env bash
# imap-compare.sh [WORKDIR] — the IMAP speed and memory figures of issue 5,
# Postern against Debian's Dovecot on the same machine, side by side:
#
#   1. builds postern and mailbench from commit $REV of this checkout;
#   2. writes a Maildir of $MESSAGES generated messages (mailbench maildir:
#      2–20 KiB, a third multipart, full headers) once into WORKDIR/src
#      (kept and reused when WORKDIR is given again);
#   3. copies it for each server: Postern's data dir WORKDIR/postern
#      (`postern serve` with a config written here: IMAP and IMAPS on
#      127.0.0.1 only, self-signed TLS) and the reference Dovecot started by
#      setup.sh in WORKDIR/dovecot, each reading its own copy;
#   4. warms both (one untimed pass of every step: Postern's first scan,
#      Dovecot's index build), then runs `mailbench imap -tls -runs 1`
#      $RUNS times against each server in turn (SELECT INBOX, UID FETCH 1:*
#      (UID FLAGS), (ENVELOPE RFC822.SIZE), BODY.PEEK[]), and each time a
#      SELECT while another connection idles on INBOX (-hold); beside the
#      wall-clock times, the CPU time each server's processes used in each
#      step (/proc, 10 ms ticks: less sensitive to other load on the
#      machine);
#   5. restarts Postern (a clean heap) and measures memory per connection
#      with `mailbench imap-idle`: $CONNS TLS connections logged in, INBOX
#      selected, in IDLE; the server's Pss and RSS before and after (the
#      whole process tree: Dovecot's imap and imap-login processes too);
#   6. prints the table (medians, ratio Postern/Dovecot) and the commit.
#
# Environment: MESSAGES (100000), RUNS (5), CONNS (1000), REV (HEAD: the
# commit measured), RUN_AS (mail: the unprivileged user both servers run
# as). Needs root (setup.sh, the
# privilege drop of postern serve), Go, Dovecot and Postfix. About 2.5 GB
# of disk for 100,000 messages. Results stay in WORKDIR (default: a new
# directory under /tmp, removed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${ROOT:-$(cd "$HERE/../../.." && pwd)}
MESSAGES=${MESSAGES:-100000}
RUNS=${RUNS:-5}
CONNS=${CONNS:-1000}
RUN_AS=${RUN_AS:-mail}
REV=${REV:-HEAD}
ADDR_USER=anna@bench.test
PASSWORD=bench-secret

if [[ $(id -u) -ne 0 ]]; then
	echo "$0: needs root (setup.sh, postern serve's privilege drop)" >&2
	exit 1
fi
if [[ $# -gt 1 ]]; then
	echo "usage: $0 [WORKDIR]" >&2
	exit 2
fi
if [[ $# -eq 1 ]]; then
	mkdir -p "$1"
	WORK=$(cd "$1" && pwd)
	TEMP_WORK=0
else
	WORK=$(mktemp -d /tmp/imap-compare.XXXXXX)
	TEMP_WORK=1
fi
chmod 0755 "$WORK"
# Every connection is a descriptor in the client and in each server.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < CONNS * 2 + 1000)); then
	echo "$0: open-file limit $(ulimit -n) too low for $CONNS connections" >&2
	exit 1
fi

POSTERN_PID=
cleanup() {
	if [[ -n $POSTERN_PID ]]; then kill "$POSTERN_PID" 2>/dev/null && wait "$POSTERN_PID" 2>/dev/null; fi
	"$HERE/stop.sh" "$WORK/dovecot" 2>/dev/null || true
	rm -rf "$WORK/postern/mail" "$WORK/dovecot/mail"
	if [[ $TEMP_WORK == 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port PORT: up to 60 s (the first scan of a large INBOX is lazy, startup is fast)
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "$0: nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# The binaries are built from the commit $REV exported into WORKDIR/tree,
# so uncommitted changes in the checkout are never measured.
COMMIT=$(git -C "$ROOT" rev-parse --short "$REV^{commit}")
log "build $COMMIT"
rm -rf "$WORK/tree"
mkdir -p "$WORK/bin" "$WORK/tree"
git -C "$ROOT" archive "$COMMIT" | tar -x -C "$WORK/tree"
(cd "$WORK/tree" && go build -o "$WORK/bin/postern" ./cmd/postern && go build -o "$WORK/bin/mailbench" ./cmd/mailbench)
BENCH=$WORK/bin/mailbench

# Bump GENERATION when mailbench maildir's output changes, so a kept
# WORKDIR/src is written anew.
GENERATION=2
if [[ ! -f $WORK/src/done-$MESSAGES-$GENERATION ]]; then
	log "generate $MESSAGES messages"
	rm -rf "$WORK/src"
	"$BENCH" maildir -dir "$WORK/src/anna" -n "$MESSAGES" -to "$ADDR_USER" >&2
	touch "$WORK/src/done-$MESSAGES-$GENERATION"
fi

# ---- Postern ----
log "postern: copy the Maildir, configure"
P_DATA=$WORK/postern
rm -rf "$P_DATA"
mkdir -p "$P_DATA/mail/bench.test"
cp -a "$WORK/src/anna" "$P_DATA/mail/bench.test/anna"
P_IMAP=$(free_port)
P_IMAPS=$(free_port)
cat >"$WORK/postern.toml" <<CONF
# written by cmd/mailbench/reference/imap-compare.sh
hostname = "localhost"
data_dir = "$P_DATA"
user = "$RUN_AS"
[accounts]
domains = ["bench.test"]
[listen]
smtp = ""
submission = ""
submissions = ""
imap = "127.0.0.1:$P_IMAP"
imaps = "127.0.0.1:$P_IMAPS"
pop3 = ""
pop3s = ""
http = ""
https = ""
[tls]
mode = "self-signed"
[log]
level = "warn"
[imap]
max_conns_per_user_ip = $((CONNS + 10))
max_conns = $((CONNS + 100))
CONF
"$WORK/bin/postern" domain add -data "$P_DATA" bench.test
printf '%s\n' "$PASSWORD" | "$WORK/bin/postern" user add -data "$P_DATA" --password-stdin "$ADDR_USER"
chown -R "$RUN_AS:$RUN_AS" "$P_DATA/mail"

start_postern() {
	"$WORK/bin/postern" serve -config "$WORK/postern.toml" 2>>"$WORK/postern.log" &
	POSTERN_PID=$!
	wait_port "$P_IMAPS"
}
stop_postern() {
	kill "$POSTERN_PID"
	wait "$POSTERN_PID" || true
	POSTERN_PID=
}

# ---- Dovecot ----
log "dovecot: start (setup.sh), copy the Maildir"
IMAP_PORT=0 IMAPS_PORT=0 PASSWORD=$PASSWORD DOMAINS=bench.test "$HERE/setup.sh" "$WORK/dovecot" >/dev/null
# shellcheck source=/dev/null
. "$WORK/dovecot/ports.env"
D_ADDR=$IMAPS_ADDR
rm -rf "$MAILDIR_ROOT/bench.test/anna"
mkdir -p "$MAILDIR_ROOT/bench.test"
cp -a "$WORK/src/anna" "$MAILDIR_ROOT/bench.test/anna"
chown -R mail:mail "$MAILDIR_ROOT/bench.test"
D_PID=$(cat "$WORK/dovecot/dovecot/run/master.pid")

start_postern
P_ADDR=127.0.0.1:$P_IMAPS
imap() { # imap ADDR [flags]: one mailbench imap result line
	local addr=$1
	shift
	"$BENCH" imap -addr "$addr" -tls -insecure -user "$ADDR_USER" -pass "$PASSWORD" "$@"
}

log "warm both (one untimed pass)"
imap "$P_ADDR" -runs 1 >"$WORK/warm.jsonl"
imap "$D_ADDR" -runs 1 >>"$WORK/warm.jsonl"

: >"$WORK/postern.jsonl"
: >"$WORK/dovecot.jsonl"
for i in $(seq "$RUNS"); do
	log "run $i/$RUNS: postern"
	imap "$P_ADDR" -runs 1 -pid "$POSTERN_PID" >>"$WORK/postern.jsonl"
	imap "$P_ADDR" -runs 1 -pid "$POSTERN_PID" -fetch "" -hold >>"$WORK/postern.jsonl"
	log "run $i/$RUNS: dovecot"
	imap "$D_ADDR" -runs 1 -pid "$D_PID" >>"$WORK/dovecot.jsonl"
	imap "$D_ADDR" -runs 1 -pid "$D_PID" -fetch "" -hold >>"$WORK/dovecot.jsonl"
done

log "idle memory: $CONNS connections each"
stop_postern
start_postern
"$BENCH" imap-idle -addr "$P_ADDR" -insecure -user "$ADDR_USER" -pass "$PASSWORD" -conns "$CONNS" -pid "$POSTERN_PID" >>"$WORK/postern.jsonl"
"$BENCH" imap-idle -addr "$D_ADDR" -insecure -user "$ADDR_USER" -pass "$PASSWORD" -conns "$CONNS" -pid "$D_PID" >>"$WORK/dovecot.jsonl"

{
	echo "commit: $COMMIT; $(nproc) cores; $(dovecot --version | cut -d' ' -f1)"
	"$BENCH" imap-report -a "$WORK/postern.jsonl" -b "$WORK/dovecot.jsonl"
} | tee "$WORK/report.md"
