package dovecottest

import (
	"fmt"
	"strings"
)

// DefaultPassword is accepted for every user when Options.PasswdFile is
// empty.
const DefaultPassword = "secret"

// POP3UIDLFormat is the UIDL format Postern's POP3 server uses too: the
// message's UID, then the folder's UIDVALIDITY, each as eight hex digits
// (Dovecot's default; Dovecot 2.3 prints the %X variables in lower case).
const POP3UIDLFormat = "%08Xu%08Xv"

// specialUse lists the default folders and their RFC 6154 attributes, as
// Postern creates them for a new account.
var specialUse = []struct{ name, attr string }{
	{"Drafts", `\Drafts`},
	{"Sent", `\Sent`},
	{"Archive", `\Archive`},
	{"Junk", `\Junk`},
	{"Trash", `\Trash`},
}

// confParams are the values written into dovecot.conf.
type confParams struct {
	dir, root                    string
	imapPort, pop3Port, lmtpPort int
	internalUser, loginUser      string
	uid, gid                     int
	passwdFile, password         string
	certFile, keyFile            string
	autoCreate                   bool
	indexMemory                  bool
}

// render returns the dovecot.conf text for p.
func (p confParams) render() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# written by postern/maildir/dovecottest\n")
	w("protocols = imap pop3 lmtp\n")
	w("listen = 127.0.0.1\n")
	w("base_dir = %s/run\n", p.dir)
	w("state_dir = %s/state\n", p.dir)
	w("log_path = %s/dovecot.log\n", p.dir)
	w("info_log_path = %s/dovecot.log\n", p.dir)
	w("default_internal_user = %s\n", p.internalUser)
	w("default_internal_group = %s\n", p.internalUser)
	w("default_login_user = %s\n", p.loginUser)
	w("first_valid_uid = 0\n")
	w("first_valid_gid = 0\n")
	w("mail_uid = %d\n", p.uid)
	w("mail_gid = %d\n", p.gid)
	w("mail_privileged_group =\n")
	loc := fmt.Sprintf("maildir:%s/%%d/%%n:LAYOUT=maildir++", p.root)
	if p.indexMemory {
		loc += ":INDEX=MEMORY"
	}
	w("mail_location = %s\n", loc)
	w("pop3_uidl_format = %s\n", POP3UIDLFormat)
	w("auth_mechanisms = plain login\n")
	w("disable_plaintext_auth = no\n")
	w("auth_failure_delay = 0\n")
	w("lmtp_save_to_detail_mailbox = no\n")
	w("postmaster_address = postmaster@localhost\n")
	if p.certFile != "" {
		w("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n", p.certFile, p.keyFile)
	} else {
		w("ssl = no\n")
	}
	if p.passwdFile != "" {
		w("passdb {\n  driver = passwd-file\n  args = username_format=%%u %s\n}\n", p.passwdFile)
	} else {
		w("passdb {\n  driver = static\n  args = password=%s\n}\n", p.password)
	}
	w("userdb {\n  driver = static\n  args = home=%s/%%d/%%n allow_all_users=yes\n}\n", p.root)
	auto := "no"
	if p.autoCreate {
		auto = "subscribe"
	}
	w("namespace inbox {\n  inbox = yes\n  separator = /\n  prefix =\n")
	for _, s := range specialUse {
		w("  mailbox %s {\n    special_use = %s\n    auto = %s\n  }\n", s.name, s.attr, auto)
	}
	w("}\n")
	w("service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %d\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n", p.imapPort)
	w("service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = %d\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n}\n", p.pop3Port)
	w("service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = %d\n  }\n}\n", p.lmtpPort)
	return b.String()
}
