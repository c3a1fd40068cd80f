#!/usr/bin/env bash
# imap-stress-compare.sh [WORKDIR] — `mailbench imap-stress` against
# Postern and Debian's Dovecot on the same machine, side by side:
#
#   1. builds postern and mailbench from commit $REV of this checkout
#      (REV=worktree: the checkout as it is, uncommitted changes included);
#   2. writes a Maildir of $MESSAGES generated messages (mailbench maildir)
#      once into WORKDIR/src and gives each server its own copy: Postern's
#      data dir WORKDIR/postern (`postern serve` with a config written here:
#      IMAPS on 127.0.0.1 only, self-signed TLS, connection limits raised
#      for $CLIENTS) and the reference Dovecot started by setup.sh in
#      WORKDIR/dovecot, with the same user and password;
#   3. runs `mailbench imap-stress -tls` $RUNS times against each server in
#      turn, in both modes: sessions kept (-logout-every 0) and a logout
#      after every few commands (-logout-every 3), $CLIENTS clients for
#      $DURATION each, all on one user's INBOX and Stress (created by the
#      first run), spread over 10 loopback source addresses (-sources, as
#      distinct devices; Postern limits connections not yet logged in per
#      address); a run with an inconsistency or a hang still counts;
#   4. prints, per mode, the median of total ops/s of each server, the
#      ratio Postern/Dovecot, and the total inconsistencies (by check),
#      hangs and errors of each server over its runs, then the commit.
#
# The result lines stay in WORKDIR/postern.jsonl and WORKDIR/dovecot.jsonl
# (with the first inconsistencies, hangs and errors of every run). The
# script exits 1 when either server had an inconsistency or a hang.
#
# Environment: RUNS (3), CLIENTS (10), DURATION (60s), MESSAGES (100: the
# INBOX at the start), HANG (10s: -hang), SEED (0: a new seed per run),
# REV (HEAD), RUN_AS (mail: the unprivileged user both servers run as).
# Needs root (setup.sh, the privilege drop of postern serve), Go, Dovecot,
# Postfix and python3. Results stay in WORKDIR (default: a new directory
# under /tmp, removed at the end).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${ROOT:-$(cd "$HERE/../../.." && pwd)}
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-10}
DURATION=${DURATION:-60s}
MESSAGES=${MESSAGES:-100}
HANG=${HANG:-10s}
SEED=${SEED:-0}
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
	WORK=$(mktemp -d /tmp/imap-stress-compare.XXXXXX)
	TEMP_WORK=1
fi
chmod 0755 "$WORK"

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

wait_port() { # wait_port PORT: up to 60 s
	for _ in $(seq 600); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "$0: nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# The binaries are built from the commit $REV exported into WORKDIR/tree,
# so uncommitted changes are not measured, unless REV=worktree.
mkdir -p "$WORK/bin"
if [[ $REV == worktree ]]; then
	COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)+worktree"
	log "build the checkout ($COMMIT)"
	(cd "$ROOT" && go build -o "$WORK/bin/postern" ./cmd/postern && go build -o "$WORK/bin/mailbench" ./cmd/mailbench)
else
	COMMIT=$(git -C "$ROOT" rev-parse --short "$REV^{commit}")
	log "build $COMMIT"
	rm -rf "$WORK/tree"
	mkdir -p "$WORK/tree"
	git -C "$ROOT" archive "$COMMIT" | tar -x -C "$WORK/tree"
	(cd "$WORK/tree" && go build -o "$WORK/bin/postern" ./cmd/postern && go build -o "$WORK/bin/mailbench" ./cmd/mailbench)
fi
BENCH=$WORK/bin/mailbench

log "generate $MESSAGES messages"
rm -rf "$WORK/src"
"$BENCH" maildir -dir "$WORK/src/anna" -n "$MESSAGES" -to "$ADDR_USER" >&2

# ---- Postern ----
log "postern: copy the Maildir, configure, start"
P_DATA=$WORK/postern
rm -rf "$P_DATA"
mkdir -p "$P_DATA/mail/bench.test"
cp -a "$WORK/src/anna" "$P_DATA/mail/bench.test/anna"
P_IMAPS=$(free_port)
cat >"$WORK/postern.toml" <<CONF
# written by cmd/mailbench/reference/imap-stress-compare.sh
hostname = "localhost"
data_dir = "$P_DATA"
user = "$RUN_AS"
[accounts]
domains = ["bench.test"]
[listen]
smtp = ""
submission = ""
submissions = ""
imap = ""
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
max_connections_per_user_ip = $((CLIENTS + 10))
max_connections = $((CLIENTS + 200))
CONF
"$WORK/bin/postern" domain add -data "$P_DATA" bench.test
printf '%s\n' "$PASSWORD" | "$WORK/bin/postern" user add -data "$P_DATA" --password-stdin "$ADDR_USER"
chown -R "$RUN_AS:$RUN_AS" "$P_DATA/mail"
"$WORK/bin/postern" serve -config "$WORK/postern.toml" 2>>"$WORK/postern.log" &
POSTERN_PID=$!
wait_port "$P_IMAPS"
P_ADDR=127.0.0.1:$P_IMAPS

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

stress() { # stress ADDR LOGOUT_EVERY: one imap-stress result line
	local addr=$1 every=$2
	"$BENCH" imap-stress -addr "$addr" -tls -insecure -user "$ADDR_USER" -pass "$PASSWORD" \
		-clients "$CLIENTS" -duration "$DURATION" -hang "$HANG" -seed "$SEED" -logout-every "$every" \
		-sources 10 ||
		echo "imap-stress against $addr (-logout-every $every) exited $?" >&2
}

: >"$WORK/postern.jsonl"
: >"$WORK/dovecot.jsonl"
for i in $(seq "$RUNS"); do
	for every in 0 3; do
		log "run $i/$RUNS, -logout-every $every: postern"
		stress "$P_ADDR" "$every" >>"$WORK/postern.jsonl"
		log "run $i/$RUNS, -logout-every $every: dovecot"
		stress "$D_ADDR" "$every" >>"$WORK/dovecot.jsonl"
	done
done

{
	echo "commit: $COMMIT; $(nproc) cores; $(dovecot --version | cut -d' ' -f1); $CLIENTS clients, $DURATION per run, $RUNS runs per mode"
	python3 - "$WORK/postern.jsonl" "$WORK/dovecot.jsonl" <<'PY'
import json, statistics, sys
def load(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")]
sides = {"Postern": load(sys.argv[1]), "Dovecot": load(sys.argv[2])}
bad = False
print()
print("| mode | Postern ops/s | Dovecot ops/s | ratio | Postern incons. / hangs / errors | Dovecot incons. / hangs / errors |")
print("|---|---|---|---|---|---|")
for every, label in ((0, "sessions kept"), (3, "logout every 3")):
    row, tot = {}, {}
    for name, lines in sides.items():
        runs = [r for r in lines if r.get("logout_every") == every]
        row[name] = statistics.median([r["ops_per_sec"] for r in runs]) if runs else 0
        tot[name] = tuple(sum(r[k] for r in runs) for k in ("inconsistencies", "hangs", "errors"))
        bad = bad or tot[name][0] > 0 or tot[name][1] > 0
    ratio = row["Postern"] / row["Dovecot"] if row["Dovecot"] else float("nan")
    print(f"| {label} | {row['Postern']:.0f} | {row['Dovecot']:.0f} | {ratio:.2f} | "
          f"{' / '.join(map(str, tot['Postern']))} | {' / '.join(map(str, tot['Dovecot']))} |")
print()
for name, lines in sides.items():
    by = {}
    for r in lines:
        for k, v in (r.get("inconsistencies_by_check") or {}).items():
            by[k] = by.get(k, 0) + v
    first = next((r["first_inconsistencies"][0] for r in lines if r.get("first_inconsistencies")), None)
    hang = next((r["first_hangs"][0] for r in lines if r.get("first_hangs")), None)
    print(f"{name}: inconsistencies by check {by or '{}'}")
    if first:
        print(f"  first: {json.dumps(first)}")
    if hang:
        print(f"  first hang: {json.dumps(hang)}")
sys.exit(1 if bad else 0)
PY
} | tee "$WORK/report.md"
exit "${PIPESTATUS[0]}"
