package dovecottest

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/accounts/testkit"
)

// StartTimeout bounds how long Start waits for Dovecot to listen.
const StartTimeout = 30 * time.Second

// StopTimeout bounds how long the cleanup waits for Dovecot to exit after
// SIGTERM before it kills the process.
const StopTimeout = 10 * time.Second

// Options configure a Dovecot instance. The zero value serves a fresh
// empty Maildir root with the password DefaultPassword for every user.
type Options struct {
	// Root is the Maildir++ root: user "local@domain" lives in
	// <Root>/<domain>/<local>/. Empty means a new temporary directory.
	Root string
	// PasswdFile is a Dovecot passwd-file ("user:{SCHEME}hash" lines)
	// used as the passdb. Empty means a static passdb accepting Password.
	PasswdFile string
	// Password is the static passdb's password; empty means
	// DefaultPassword. Ignored when PasswdFile is set.
	Password string
	// UID and GID own the mail files Dovecot writes, and Start hands
	// Root over to them. Dovecot refuses mail access as root, so zero
	// means the Debian user "mail" (uid 8) when running as root, else the
	// current user.
	UID, GID int
	// TLS turns on ssl=yes with a fresh self-signed certificate for
	// 127.0.0.1 (Dovecot.CertFile); STARTTLS is then offered on IMAP and
	// POP3 and STLS on POP3.
	TLS bool
	// AutoCreate makes Dovecot create and subscribe the special-use
	// folders (Drafts, Sent, Archive, Junk, Trash) on first login, as
	// Postern does.
	AutoCreate bool
	// IndexMemory keeps Dovecot's index files in memory so the Maildir
	// holds only what Postern writes too (messages, dovecot-uidlist,
	// dovecot-keywords, subscriptions).
	IndexMemory bool
}

// Dovecot is a running private Dovecot instance.
type Dovecot struct {
	// Dir is the instance's private directory (config, sockets, log).
	Dir string
	// Root is the Maildir++ root it serves.
	Root string
	// Conf is the path of its dovecot.conf.
	Conf string
	// IMAPAddr, POP3Addr and LMTPAddr are "127.0.0.1:port" listeners
	// (plain, with STARTTLS when Options.TLS).
	IMAPAddr, POP3Addr, LMTPAddr string
	// Password is the static password (empty with a passwd-file).
	Password string
	// CertFile is the PEM certificate presented with Options.TLS.
	CertFile string
	// UID and GID are the owner Dovecot reads and writes mail as.
	UID, GID int

	t       testing.TB
	doveadm string
	cmd     *exec.Cmd
	once    sync.Once
}

// Start writes a dovecot.conf for opts, starts `dovecot -F -c conf`,
// waits until IMAP, POP3 and LMTP accept connections, and stops Dovecot
// when the test ends.
func Start(t testing.TB, opts Options) *Dovecot {
	t.Helper()
	bin := testkit.RequireTool(t, "dovecot", "/usr/sbin/dovecot")
	doveadm := testkit.RequireTool(t, "doveadm", "/usr/bin/doveadm")

	// The login and auth processes run as unprivileged users and must be
	// able to reach the sockets, so the directory is 0755, not
	// t.TempDir's 0700.
	dir, err := os.MkdirTemp("", "postern-dovecot-")
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	root := opts.Root
	if root == "" {
		root = filepath.Join(dir, "mail")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	p := confParams{
		dir:         dir,
		root:        root,
		uid:         opts.UID,
		gid:         opts.GID,
		passwdFile:  opts.PasswdFile,
		password:    opts.Password,
		autoCreate:  opts.AutoCreate,
		indexMemory: opts.IndexMemory,
	}
	if p.uid == 0 {
		p.uid, p.gid = os.Geteuid(), os.Getegid()
		if p.uid == 0 {
			p.uid, p.gid = mailUser(t)
		}
	}
	if p.password == "" && p.passwdFile == "" {
		p.password = DefaultPassword
	}
	p.internalUser, p.loginUser = "dovecot", "dovenull"
	if os.Geteuid() != 0 {
		// Without root Dovecot cannot switch users: run everything as us.
		u, err := user.Current()
		if err != nil {
			t.Fatalf("dovecottest: %v", err)
		}
		p.internalUser, p.loginUser = u.Username, u.Username
	}
	d := &Dovecot{Dir: dir, Root: root, Conf: filepath.Join(dir, "dovecot.conf"), Password: p.password, UID: p.uid, GID: p.gid, t: t, doveadm: doveadm}
	d.Chown()
	if opts.TLS {
		d.CertFile, p.keyFile = testkit.WriteCert(t, dir)
		p.certFile = d.CertFile
	}
	// Dovecot binds its ports itself, so they are ports that were free a
	// moment ago.
	p.imapPort, p.pop3Port, p.lmtpPort = testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)
	d.IMAPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.imapPort))
	d.POP3Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.pop3Port))
	d.LMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.lmtpPort))
	if err := os.WriteFile(d.Conf, []byte(p.render()), 0o644); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}

	d.cmd = exec.Command(bin, "-F", "-c", d.Conf)
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	defer out.Close()
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("dovecottest: start dovecot: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop(exited) })

	deadline := time.Now().Add(StartTimeout)
	for _, addr := range []string{d.IMAPAddr, d.POP3Addr, d.LMTPAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("dovecottest: dovecot exited (%v):\n%s", err, d.Log())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("dovecottest: dovecot does not listen on %s:\n%s", addr, d.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return d
}

// stop sends SIGTERM and waits for Dovecot (and its children) to exit.
func (d *Dovecot) stop(exited chan error) {
	d.once.Do(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(StopTimeout):
			d.cmd.Process.Kill()
			<-exited
		}
	})
}

// Doveadm runs `doveadm -c <conf> args...` and returns its combined
// output.
func (d *Dovecot) Doveadm(args ...string) (string, error) {
	cmd := exec.Command(d.doveadm, append([]string{"-c", d.Conf}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("doveadm %v: %w: %s", args, err, out)
	}
	return string(out), nil
}

// MustDoveadm is Doveadm that fails the test on error.
func (d *Dovecot) MustDoveadm(args ...string) string {
	d.t.Helper()
	out, err := d.Doveadm(args...)
	if err != nil {
		d.t.Fatalf("dovecottest: %v", err)
	}
	return out
}

// Chown hands every file under Root to UID:GID, so Dovecot can read and
// change what the test (running as root) wrote. Call it after writing
// into Root behind Dovecot's back.
func (d *Dovecot) Chown() {
	d.t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	err := filepath.WalkDir(d.Root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, d.UID, d.GID)
	})
	if err != nil {
		d.t.Fatalf("dovecottest: chown %s: %v", d.Root, err)
	}
}

// mailUser returns the uid and gid of Debian's "mail" user.
func mailUser(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("mail")
	if err != nil {
		t.Fatalf("dovecottest: no user to own mail: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// Maildir returns the Maildir of user "local@domain" under Root.
func (d *Dovecot) Maildir(user string) string {
	i := len(user) - 1
	for i >= 0 && user[i] != '@' {
		i--
	}
	if i < 0 {
		return filepath.Join(d.Root, user)
	}
	return filepath.Join(d.Root, user[i+1:], user[:i])
}

// Log returns Dovecot's log and its standard output so far (useful in
// failure messages).
func (d *Dovecot) Log() string {
	a, _ := os.ReadFile(filepath.Join(d.Dir, "stdout.log"))
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(a) + string(b)
}

// LMTPTimeout bounds the connection to Dovecot's LMTP service in
// DeliverLMTP.
const LMTPTimeout = 10 * time.Second

// DeliverLMTP delivers msg from from to rcpt through Dovecot's LMTP
// service (LHLO, MAIL, RCPT, DATA, QUIT), failing t with Dovecot's log on
// any error.
func (d *Dovecot) DeliverLMTP(t testing.TB, from, rcpt, msg string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", d.LMTPAddr, LMTPTimeout)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	err = c.Hello("localhost")
	if err == nil {
		err = c.Mail(from, nil)
	}
	if err == nil {
		err = c.Rcpt(rcpt, nil)
	}
	var w io.WriteCloser
	if err == nil {
		w, err = c.Data()
	}
	if err == nil {
		_, err = io.WriteString(w, msg)
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = c.Quit()
	}
	if err != nil {
		t.Fatalf("dovecottest: LMTP delivery to %s: %v\n%s", rcpt, err, d.Log())
	}
}
