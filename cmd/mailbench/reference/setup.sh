#!/usr/bin/env bash
# setup.sh DIR — start the reference mail stack on 127.0.0.1 for mailbench:
# Debian's Postfix (SMTP in, relaying nothing) delivering over LMTP to
# Debian's Dovecot, which stores into a Maildir++ tree laid out like
# Postern's (DIR/mail/<domain>/<localpart>/) and serves it over IMAP and
# POP3. Everything (configs, queue, sockets, logs, mail) lives under DIR.
#
# Ports come from the environment; unset or 0 means "a free port now":
#   SMTP_PORT IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT LMTP_PORT
# Other settings:
#   DOMAINS   mail domains accepted (default "bench.test")
#   PASSWORD  password of every user for IMAP/POP3 (default "secret")
#   HASH      how Dovecot checks it: BLF-CRYPT (default: bcrypt at
#             BCRYPT_COST, default 10, Postern's default cost, so a login
#             costs both servers the same) or PLAIN (no hashing)
#
# On success it writes DIR/ports.env (shell assignments of the ports, the
# certificate and the Maildir root) and prints it. Stop with stop.sh DIR.
# Needs root (Postfix's master and Dovecot switch users).
set -euo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "$0: needs root (Postfix and Dovecot switch users)" >&2
	exit 1
fi
for tool in dovecot doveadm postfix openssl python3; do
	command -v "$tool" >/dev/null || {
		echo "$0: $tool is not installed (apt-get install dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix openssl)" >&2
		exit 1
	}
done

mkdir -p "$1"
DIR=$(cd "$1" && pwd)
DOMAINS=${DOMAINS:-bench.test}
PASSWORD=${PASSWORD:-secret}
HASH=${HASH:-BLF-CRYPT}
BCRYPT_COST=${BCRYPT_COST:-10}
case $HASH in
BLF-CRYPT) PASSDB_PASSWORD=$(doveadm pw -s BLF-CRYPT -r "$BCRYPT_COST" -p "$PASSWORD") ;;
PLAIN) PASSDB_PASSWORD=$PASSWORD ;;
*)
	echo "$0: HASH must be BLF-CRYPT or PLAIN" >&2
	exit 2
	;;
esac
MAIL_USER=mail # Dovecot refuses to access mail as root

# Postfix refuses group- or world-writable parents of its directories.
chmod 0755 "$DIR"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port() { # port NAME: the variable's value, or a free port
	local v=${!1:-0}
	if [[ $v == 0 ]]; then free_port; else echo "$v"; fi
}
SMTP_PORT=$(port SMTP_PORT)
IMAP_PORT=$(port IMAP_PORT)
IMAPS_PORT=$(port IMAPS_PORT)
POP3_PORT=$(port POP3_PORT)
POP3S_PORT=$(port POP3S_PORT)
LMTP_PORT=$(port LMTP_PORT)

mkdir -p "$DIR/etc" "$DIR/mail" "$DIR/dovecot" "$DIR/postfix" "$DIR/spool" "$DIR/data"
chown "$MAIL_USER:$MAIL_USER" "$DIR/mail"
chown postfix:postfix "$DIR/data"

# One self-signed certificate for both servers (clients use -insecure).
if [[ ! -s $DIR/etc/cert.pem ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$DIR/etc/key.pem" -out "$DIR/etc/cert.pem" 2>/dev/null
	chmod 0600 "$DIR/etc/key.pem"
fi

# ---- Dovecot: IMAP, POP3, LMTP over DIR/mail ----
cat >"$DIR/dovecot/dovecot.conf" <<CONF
# written by cmd/mailbench/reference/setup.sh
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = $DIR/dovecot/run
state_dir = $DIR/dovecot/state
log_path = $DIR/dovecot/dovecot.log
info_log_path = $DIR/dovecot/dovecot.log
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_uid = $MAIL_USER
mail_gid = $MAIL_USER
mail_privileged_group =
mail_location = maildir:$DIR/mail/%d/%n:LAYOUT=maildir++
pop3_uidl_format = %08Xu%08Xv
auth_mechanisms = plain login
disable_plaintext_auth = no
lmtp_save_to_detail_mailbox = no
postmaster_address = postmaster@localhost
ssl = yes
ssl_cert = <$DIR/etc/cert.pem
ssl_key = <$DIR/etc/key.pem
passdb {
  driver = static
  args = password=$PASSDB_PASSWORD
}
userdb {
  driver = static
  args = home=$DIR/mail/%d/%n allow_all_users=yes
}
namespace inbox {
  inbox = yes
  separator = /
  prefix =
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
}
# Limits raised so 1,000+ IMAP connections fit (imap-compare.sh holds
# 1,000 in IDLE); Dovecot's process model is unchanged: one imap-login
# process (the TLS proxy) and one imap process per connection.
default_client_limit = 10000
protocol imap {
  mail_max_userip_connections = 5000
}
service imap-login {
  process_limit = 5000
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service imap {
  process_limit = 5000
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
CONF
# Every connection costs Dovecot's master and login processes descriptors.
ulimit -n "$(ulimit -Hn)"
dovecot -c "$DIR/dovecot/dovecot.conf"

# ---- Postfix: SMTP in, LMTP to Dovecot ----
cat >"$DIR/postfix/main.cf" <<CONF
# written by cmd/mailbench/reference/setup.sh
compatibility_level = 3.6
queue_directory = $DIR/spool
data_directory = $DIR/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = reference.bench.test
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = $DOMAINS
virtual_mailbox_maps =
virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
smtpd_tls_cert_file = $DIR/etc/cert.pem
smtpd_tls_key_file = $DIR/etc/key.pem
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = yes
maillog_file = $DIR/postfix/maillog
maillog_file_prefixes = $DIR
biff = no
CONF
cat >"$DIR/postfix/master.cf" <<CONF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
lmtp unix - - n - - lmtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
tlsmgr unix - - n 1000? 1 tlsmgr
showq unix n - n - - showq
CONF
postfix -c "$DIR/postfix" check
postfix -c "$DIR/postfix" start >/dev/null 2>&1 || {
	echo "$0: postfix failed to start; see $DIR/postfix/maillog" >&2
	exit 1
}

cat >"$DIR/ports.env" <<ENV
SMTP_ADDR=127.0.0.1:$SMTP_PORT
IMAP_ADDR=127.0.0.1:$IMAP_PORT
IMAPS_ADDR=127.0.0.1:$IMAPS_PORT
POP3_ADDR=127.0.0.1:$POP3_PORT
POP3S_ADDR=127.0.0.1:$POP3S_PORT
LMTP_ADDR=127.0.0.1:$LMTP_PORT
CERT=$DIR/etc/cert.pem
MAILDIR_ROOT=$DIR/mail
PASSWORD=$PASSWORD
ENV

# Wait (at most 20 s) until every listener accepts connections.
for addr in $SMTP_PORT $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT $LMTP_PORT; do
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$addr") 2>/dev/null; then continue 2; fi
		sleep 0.1
	done
	echo "$0: nothing listens on 127.0.0.1:$addr; see $DIR/dovecot/dovecot.log and $DIR/postfix/maillog" >&2
	exit 1
done
cat "$DIR/ports.env"
