package queue

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

	"github.com/emersion/go-msgauth/dkim"
)

// requireTool returns the path of a third-party program, skipping the test
// when it is missing, or failing when POSTERN_REQUIRE_TOOLS=1.
func requireTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if _, err := os.Stat(n); err == nil {
			return n
		}
	}
	if os.Getenv("POSTERN_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%v not installed (POSTERN_REQUIRE_TOOLS=1)", names)
	}
	t.Skipf("%v not installed", names)
	return ""
}

// postfix is a private Postfix instance on 127.0.0.1: its own config,
// queue and data directories, accepting mail for domain into one Maildir
// (<dir>/mail/box/) over SMTP with STARTTLS and a self-signed certificate.
type postfix struct {
	dir      string
	addr     string
	authAddr string
}

// With withAuth, a second listener (authAddr) demands STARTTLS and SASL
// AUTH (through a private Dovecot auth service, user relayuser, password
// s3cret) before it accepts any recipient.
func startPostfix(t *testing.T, domain string, withAuth bool) *postfix {
	t.Helper()
	master := requireTool(t, "/usr/lib/postfix/sbin/master")
	postfixCmd := requireTool(t, "postfix", "/usr/sbin/postfix")
	if os.Geteuid() != 0 {
		if os.Getenv("POSTERN_REQUIRE_TOOLS") == "1" {
			t.Fatal("a private Postfix instance needs root")
		}
		t.Skip("a private Postfix instance needs root")
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
	if os.Getenv("KEEP") == "" {
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

	certPEM, keyPEM := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "etc", "cert.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "etc", "key.pem"), keyPEM, 0o600)

	addr, authAddr := freeAddr(t), freeAddr(t)

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
`, dir, domain, uid, gid)
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
	if withAuth {
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
	if withAuth {
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
	waitFor(t, "postfix to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return &postfix{dir: dir, addr: addr, authAddr: authAddr}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago (Postfix cannot be handed a listening socket).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDovecotAuth runs a private Dovecot that serves only its auth
// service on socket, for Postfix's SASL, with one user relayuser/s3cret.
func startDovecotAuth(t *testing.T, dir, socket string) {
	t.Helper()
	dovecot := requireTool(t, "dovecot", "/usr/sbin/dovecot")
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
	waitFor(t, "dovecot auth socket", func() bool {
		_, err := os.Stat(socket)
		return err == nil
	})
}

// delivered returns the messages Postfix stored.
func (p *postfix) delivered() [][]byte {
	files, _ := filepath.Glob(filepath.Join(p.dir, "mail", "box", "new", "*"))
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func (p *postfix) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// A queued message reaches a real Postfix over STARTTLS, with its header
// intact and a DKIM signature that verifies against the key in the test
// DNS.
func TestDeliverToPostfix(t *testing.T) {
	t.Parallel()
	pf := startPostfix(t, "pf.test", false)
	data := t.TempDir()
	d := newTestDNS(t)
	_, name, txt, err := GenerateDKIMKey(data, "sender.test", "s1", "rsa")
	if err != nil {
		t.Fatal(err)
	}
	d.add(t, "pf.test. MX 10 mx.pf.test.", "mx.pf.test. A 127.0.0.1", name+". TXT "+QuoteTXT(txt))
	q := testQueue(t, data, d, portOf(pf.addr), nil, nil)
	enqueue(t, q, "anna@sender.test", []string{"bob@pf.test", "carol@pf.test"}, testMessage("anna@sender.test", "bob@pf.test", "to-postfix"))
	deadline := time.Now().Add(30 * time.Second)
	for len(pf.delivered()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Postfix stored %d messages; its log:\n%s", len(pf.delivered()), pf.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "queue to empty", func() bool { return queueEmpty(data) })
	for _, m := range pf.delivered() {
		if !bytes.Contains(m, []byte("Subject: to-postfix\n")) || !bytes.Contains(m, []byte("Message-ID: <to-postfix@sender.test>")) {
			t.Fatalf("header not intact:\n%s", m)
		}
		if !bytes.Contains(m, []byte("(using TLS")) || !bytes.Contains(m, []byte("from out.sender.test")) {
			t.Fatalf("Received header shows no TLS or wrong EHLO:\n%s", m)
		}
		crlf := bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(crlf), &dkim.VerifyOptions{LookupTXT: d.lookupTXT})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Fatalf("DKIM at Postfix: %v %+v\n%s", err, vs, m)
		}
	}
	if !strings.Contains(pf.log(), "postfix/smtpd") {
		t.Logf("postfix log:\n%s", pf.log())
	}
}

// Postfix as smarthost on a submission-style port that demands AUTH:
// with credentials the message is relayed (over verified TLS); without
// them it stays deferred with Postfix's refusal as the reason.
func TestSmarthostPostfixAuth(t *testing.T) {
	t.Parallel()
	pf := startPostfix(t, "pf.test", true)
	for _, tc := range []struct {
		name, user string
	}{{"with credentials", "relayuser"}, {"without credentials", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			d := newTestDNS(t)
			q := testQueue(t, data, d, "1", nil, func(c *Config) {
				c.Smarthost = Smarthost{Address: pf.authAddr, Username: tc.user, Password: "s3cret", CAFile: filepath.Join(pf.dir, "etc", "cert.pem")}
			})
			enqueue(t, q, "anna@sender.test", []string{"dave@pf.test"}, testMessage("anna@sender.test", "dave@pf.test", "via-"+tc.name))
			if tc.user != "" {
				deadline := time.Now().Add(30 * time.Second)
				for len(pf.delivered()) == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("not relayed; postfix log:\n%s", pf.log())
					}
					time.Sleep(50 * time.Millisecond)
				}
				waitFor(t, "queue to empty", func() bool { return queueEmpty(data) })
				if m := pf.delivered()[0]; !bytes.Contains(m, []byte("with ESMTPSA")) {
					t.Fatalf("no authenticated relay in Received:\n%s", m)
				}
				return
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				l, _ := List(data)
				if len(l) == 1 && l[0].Rcpts[0].State == StateDeferred && strings.Contains(l[0].Rcpts[0].LastError, "554 5.7.1") {
					break
				}
				if time.Now().After(deadline) {
					if len(l) == 1 {
						t.Logf("recipient: %+v", *l[0].Rcpts[0])
					}
					t.Fatalf("not deferred with Postfix's reason (%d queued)", len(l))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
