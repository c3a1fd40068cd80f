package pop3d

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// toolTimeout bounds every run of an external client.
const toolTimeout = 2 * time.Minute

// runTool runs an external program in dir with HOME=dir and returns its
// combined output, failing the test on a non-zero exit unless ok accepts
// the exit code.
func runTool(t *testing.T, dir string, ok func(code int) bool, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, isExit := err.(*exec.ExitError); isExit {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	if ok == nil {
		ok = func(c int) bool { return c == 0 }
	}
	if !ok(code) {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
	}
	return string(out)
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func TestPythonPoplib(t *testing.T) {
	t.Parallel()
	py := testkit.RequireTool(t, "python3")
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), ".dotted: header\r\n\r\n.line\r\n", testMessage(3))
	v := e.inbox(testkit.AnnaUser).UIDValidity()
	script := `
import poplib, ssl, sys
host, plain, implicit, ca, user, pw = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
# STLS on the plain port.
p = poplib.POP3(host, int(plain), timeout=30)
caps = p.capa()
assert 'STLS' in caps and 'USER' not in caps, caps
p.stls(context=ctx)
assert 'USER' in p.capa()
p.user(user); p.pass_(pw)
print('STAT', *p.stat())
print('UIDL', *[u.decode() for u in p.uidl()[1]])
resp, lines, octets = p.retr(2)
print('RETR2', repr(b'\r\n'.join(lines)), octets)
print('TOP1', len(p.top(1, 0)[1]))
p.dele(3)
print('QUIT', p.quit().decode())
# Implicit TLS.
p = poplib.POP3_SSL(host, int(implicit), context=ctx, timeout=30)
p.user(user); p.pass_(pw)
print('STAT2', *p.stat())
p.quit()
`
	out := runTool(t, t.TempDir(), nil, py, "-c", script, "127.0.0.1", port(e.addr), port(e.tlsAddr), e.caFile, testkit.AnnaUser, testkit.AnnaPass)
	size := func(s string) int { return len(s) }
	want := []string{
		fmt.Sprintf("STAT 3 %d", size(testMessage(1))+size(".dotted: header\r\n\r\n.line\r\n")+size(testMessage(3))),
		fmt.Sprintf("UIDL 1 "+uidlFormat+" 2 "+uidlFormat+" 3 "+uidlFormat, uids[0], v, uids[1], v, uids[2], v),
		fmt.Sprintf(`RETR2 b'.dotted: header\r\n\r\n.line' %d`, size(".dotted: header\r\n\r\n.line\r\n")),
		"TOP1 5",
		"QUIT +OK Bye, 1 messages removed",
		fmt.Sprintf("STAT2 2 %d", size(testMessage(1))+size(".dotted: header\r\n\r\n.line\r\n")),
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("poplib output lacks %q:\n%s", w, out)
		}
	}
}

// fetchmailRC writes a fetchmail configuration polling the server over
// STLS (implicit=false) or port-995-style TLS, delivering each message
// as a file in out/.
func fetchmailRC(t *testing.T, e *testEnv, dir string, keep bool) string {
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o700)
	keepWord := "nokeep"
	if keep {
		keepWord = "keep"
	}
	rc := fmt.Sprintf(`set no syslog
poll 127.0.0.1 service %s protocol pop3 uidl
  user "%s" there with password "%s" is "tester" here
  ssl sslproto "tls1.2+" sslcertck sslcertfile "%s" sslcommonname "localhost"
  %s
  mda "/bin/sh -c 'cat > %s/$(date +%%s%%N).eml'"
`, port(e.tlsAddr), testkit.AnnaUser, testkit.AnnaPass, e.caFile, keepWord, out)
	path := filepath.Join(dir, "fetchmailrc")
	if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func countFiles(t *testing.T, dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestFetchmailKeepWithUIDL(t *testing.T) {
	t.Parallel()
	fm := testkit.RequireTool(t, "fetchmail")
	e := newEnv(t, Config{})
	uids := e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2))
	dir := t.TempDir()
	rc := fetchmailRC(t, e, dir, true)
	idfile := filepath.Join(dir, "fetchids")
	// exit 0: mail fetched; 1: no new mail.
	run := func(want int) string {
		return runTool(t, dir, func(c int) bool { return c == want }, fm, "-f", rc, "-i", idfile, "--pidfile", filepath.Join(dir, "pid"), "--nodetach", "-v")
	}
	run(0)
	if n := countFiles(t, filepath.Join(dir, "out")); n != 2 {
		t.Fatalf("first run delivered %d messages, want 2", n)
	}
	out := run(1) // uidl: nothing new
	if n := countFiles(t, filepath.Join(dir, "out")); n != 2 {
		t.Fatalf("second run delivered again (%d files):\n%s", n, out)
	}
	e.deliver(testkit.AnnaUser, testMessage(3))
	run(0)
	if n := countFiles(t, filepath.Join(dir, "out")); n != 3 {
		t.Fatalf("third run: %d files, want 3", n)
	}
	if got := e.uids(testkit.AnnaUser); len(got) != 3 || !slices.Equal(got[:2], uids) {
		t.Fatalf("keep mode removed messages: %v", got)
	}
	ids, _ := os.ReadFile(idfile)
	v := e.inbox(testkit.AnnaUser).UIDValidity()
	if !strings.Contains(string(ids), fmt.Sprintf(uidlFormat, uids[0], v)) {
		t.Errorf("fetchids lacks the UIDL of message 1:\n%s", ids)
	}
}

func TestFetchmailDelete(t *testing.T) {
	t.Parallel()
	fm := testkit.RequireTool(t, "fetchmail")
	e := newEnv(t, Config{})
	e.deliver(testkit.AnnaUser, testMessage(1), testMessage(2), "Subject: dots\r\n\r\n.\r\n..two\r\n")
	dir := t.TempDir()
	rc := fetchmailRC(t, e, dir, false)
	runTool(t, dir, nil, fm, "-f", rc, "-i", filepath.Join(dir, "fetchids"), "--pidfile", filepath.Join(dir, "pid"), "--nodetach")
	if n := countFiles(t, filepath.Join(dir, "out")); n != 3 {
		t.Fatalf("delivered %d messages, want 3", n)
	}
	if got := e.uids(testkit.AnnaUser); len(got) != 0 {
		t.Fatalf("messages left after fetchmail nokeep: %v", got)
	}
}

// mpopConf writes an mpop configuration for the server, over STLS or
// implicit TLS, delivering to a mbox file.
func mpopConf(t *testing.T, e *testEnv, dir string, implicit bool) (conf, mbox string) {
	mbox = filepath.Join(dir, "mbox")
	os.WriteFile(mbox, nil, 0o600)
	p, starttls := port(e.addr), "on"
	if implicit {
		p, starttls = port(e.tlsAddr), "off"
	}
	c := fmt.Sprintf(`defaults
tls on
tls_starttls %s
tls_trust_file %s
tls_host_override localhost
auth user
uidls_file %s/uidls
account default
host 127.0.0.1
port %s
user %s
password %s
delivery mbox %s
keep on
`, starttls, e.caFile, dir, p, testkit.AnnaUser, testkit.AnnaPass, mbox)
	conf = filepath.Join(dir, "mpoprc")
	if err := os.WriteFile(conf, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf, mbox
}

func TestMpop(t *testing.T) {
	t.Parallel()
	mp := testkit.RequireTool(t, "mpop")
	for _, implicit := range []bool{false, true} {
		t.Run(map[bool]string{false: "STLS", true: "TLS"}[implicit], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{})
			e.deliver(testkit.AnnaUser, testMessage(1), "Subject: dots\r\n\r\n.\r\n..x\r\n")
			dir := t.TempDir()
			conf, mbox := mpopConf(t, e, dir, implicit)
			runTool(t, dir, nil, mp, "-C", conf, "-q")
			got, _ := os.ReadFile(mbox)
			if strings.Count(string(got), "\nFrom ") != 1 || !strings.Contains(string(got), "Subject: message 1") ||
				!strings.Contains(string(got), "\n.\n..x\n") {
				t.Fatalf("mbox after mpop:\n%s", got)
			}
			// keep on + UIDLs: a second run fetches nothing.
			runTool(t, dir, nil, mp, "-C", conf, "-q")
			again, _ := os.ReadFile(mbox)
			if len(again) != len(got) {
				t.Fatalf("second mpop run fetched again: %d -> %d bytes", len(got), len(again))
			}
			if n := len(e.uids(testkit.AnnaUser)); n != 2 {
				t.Fatalf("keep on: %d messages left, want 2", n)
			}
		})
	}
}

func TestCurl(t *testing.T) {
	t.Parallel()
	curl := testkit.RequireTool(t, "curl")
	e := newEnv(t, Config{})
	msg2 := "Subject: two\r\n\r\n.dot line\r\nend\r\n"
	e.deliver(testkit.AnnaUser, testMessage(1), msg2)
	dir := t.TempDir()
	base := []string{"-sS", "--cacert", e.caFile, "--user", testkit.AnnaUser + ":" + testkit.AnnaPass, "--max-time", "60", "--login-options", "AUTH=*"}
	plain := "pop3://localhost:" + port(e.addr) + "/"
	secure := "pop3s://localhost:" + port(e.tlsAddr) + "/"
	// LIST over STLS (--ssl-reqd) and over implicit TLS.
	for _, u := range []string{plain, secure} {
		out := runTool(t, dir, nil, curl, append(base, "--ssl-reqd", u)...)
		want := fmt.Sprintf("1 %d\r\n2 %d\r\n", len(testMessage(1)), len(msg2))
		if out != want {
			t.Errorf("curl LIST %s = %q, want %q", u, out, want)
		}
	}
	// RETR: curl un-stuffs the dots.
	if out := runTool(t, dir, nil, curl, append(base, "--ssl-reqd", plain+"2")...); out != msg2 {
		t.Errorf("curl RETR 2 = %q, want %q", out, msg2)
	}
	// Without TLS curl must fail to log in.
	runTool(t, dir, func(c int) bool { return c != 0 }, curl, append(base, plain)...)
	// DELE 1 (curl sends QUIT, which applies it).
	runTool(t, dir, nil, curl, append(base, "-X", "DELE", "-I", secure+"1")...)
	if n := len(e.uids(testkit.AnnaUser)); n != 1 {
		t.Fatalf("after curl DELE: %d messages, want 1", n)
	}
}
