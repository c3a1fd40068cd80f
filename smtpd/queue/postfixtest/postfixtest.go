// Package postfixtest starts a private Debian Postfix on loopback for
// tests: its own configuration, queue and mail directories under a
// temporary directory, STARTTLS with a self-signed certificate, optional
// SASL AUTH (through a private Dovecot auth service) and optional
// relaying to another server. The outbound queue's tests deliver to it,
// and cmd/mailbench's tests use it as a reference relay.
package postfixtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// Server is a private Postfix instance on 127.0.0.1: its own config,
// queue and data directories, accepting mail for its domains into one
// Maildir (<Dir>/mail/box/) over SMTP with STARTTLS and a self-signed
// certificate (<Dir>/etc/cert.pem, valid for 127.0.0.1).
type Server struct {
	// Dir is the instance's root directory.
	Dir string
	// Addr is the plain SMTP listener (STARTTLS offered, no AUTH).
	Addr string
	// AuthAddr, with Options.Auth, demands STARTTLS and AUTH before it
	// accepts a recipient (user "relayuser", password "s3cret").
	AuthAddr string
	// CertFile is the PEM certificate Postfix presents.
	CertFile string
}

// Options choose what the instance does with mail.
type Options struct {
	// Domains are accepted and stored in the Maildir.
	Domains []string
	// Auth adds the AuthAddr listener, with SASL through a private
	// Dovecot auth service.
	Auth bool
	// RelayTo, "host:port", sends all mail from loopback clients on to
	// that server (for measuring Postfix as a relay) instead of storing it.
	RelayTo string
}

// Start runs a Postfix instance until the test ends. It needs root (the
// master process switches to the postfix user); without Postfix or root
// the test is skipped, or fails with POSTERN_REQUIRE_TOOLS=1.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	master := testkit.RequireTool(t, "/usr/lib/postfix/sbin/master")
	postfixCmd := testkit.RequireTool(t, "postfix", "/usr/sbin/postfix")
	if os.Geteuid() != 0 {
		testkit.Unavailable(t, "a private Postfix instance needs root")
	}
	pu, err := user.Lookup("postfix")
	if err != nil {
		t.Skipf("no postfix user: %v", err)
	}
	// Postfix refuses group- or world-writable parents and a queue
	// directory not owned by root, so build it outside t.TempDir's 0777
	// chain under a private 0755 directory.
	dir, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if os.Getenv("POSTERN_KEEP_POSTFIX") == "" {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	for _, d := range []string{"etc", "spool", "data", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var uid, gid int
	fmt.Sscan(pu.Uid, &uid)
	fmt.Sscan(pu.Gid, &gid)
	os.Chown(filepath.Join(dir, "data"), uid, gid)
	os.Chown(filepath.Join(dir, "mail"), uid, gid)

	testkit.WriteCert(t, filepath.Join(dir, "etc"))

	// Postfix binds its ports itself (it cannot be handed a listening
	// socket), so they are ports that were free a moment ago.
	addr, authAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)

	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postfix.test
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = %[2]s
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:%[3]d
virtual_gid_maps = static:%[4]d
virtual_minimum_uid = 1
smtpd_tls_cert_file = %[1]s/etc/cert.pem
smtpd_tls_key_file = %[1]s/etc/key.pem
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = yes
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
biff = no
`, dir, strings.Join(opts.Domains, ", "), uid, gid)
	if opts.RelayTo != "" {
		host, port, err := net.SplitHostPort(opts.RelayTo)
		if err != nil {
			t.Fatal(err)
		}
		mainCF += "transport_maps = static:smtp:[" + host + "]:" + port + "\nsmtp_tls_security_level = may\n"
	}
	masterCF := fmt.Sprintf(`%s inet n - n - - smtpd
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
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
tlsmgr unix - - n 1000? 1 tlsmgr
showq unix n - n - - showq
`, addr)
	if opts.Auth {
		masterCF += authAddr + ` inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path=private/auth
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
`
	}
	os.WriteFile(filepath.Join(dir, "etc", "main.cf"), []byte(mainCF), 0o644)
	os.WriteFile(filepath.Join(dir, "etc", "master.cf"), []byte(masterCF), 0o644)

	if out, err := exec.Command(postfixCmd, "-c", filepath.Join(dir, "etc"), "check").CombinedOutput(); err != nil {
		t.Fatalf("postfix check: %v\n%s", err, out)
	}
	if opts.Auth {
		startDovecotAuth(t, dir, filepath.Join(dir, "spool", "private", "auth"))
	}
	cmd := exec.Command(master, "-c", filepath.Join(dir, "etc"), "-d")
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+filepath.Join(dir, "etc"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// master stops its children on SIGTERM.
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	testkit.WaitFor(t, "postfix to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return &Server{Dir: dir, Addr: addr, AuthAddr: authAddr, CertFile: filepath.Join(dir, "etc", "cert.pem")}
}

// startDovecotAuth runs a private Dovecot that serves only its auth
// service on socket, for Postfix's SASL, with one user relayuser/s3cret.
func startDovecotAuth(t testing.TB, dir, socket string) {
	t.Helper()
	dovecot := testkit.RequireTool(t, "dovecot", "/usr/sbin/dovecot")
	dd := filepath.Join(dir, "dovecot")
	os.MkdirAll(dd, 0o755)
	os.WriteFile(filepath.Join(dd, "passwd"), []byte("relayuser:{PLAIN}s3cret\n"), 0o644)
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/log
protocols =
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=postfix gid=postfix home=/nonexistent
}
service auth {
  unix_listener %[2]s {
    mode = 0666
  }
}
`, dd, socket)
	os.WriteFile(filepath.Join(dd, "dovecot.conf"), []byte(conf), 0o644)
	cmd := exec.Command(dovecot, "-c", filepath.Join(dd, "dovecot.conf"), "-F")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	testkit.WaitFor(t, "dovecot auth socket", func() bool {
		_, err := os.Stat(socket)
		return err == nil
	})
}

// Delivered returns the messages Postfix stored.
func (p *Server) Delivered() [][]byte {
	files, _ := filepath.Glob(filepath.Join(p.Dir, "mail", "box", "new", "*"))
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// Log returns Postfixs log so far.
func (p *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}
