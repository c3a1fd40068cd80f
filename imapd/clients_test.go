package imapd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// run runs a program with a timeout and returns its combined output.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	done := make(chan struct{})
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	close(done)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

const imaplibScript = `
import imaplib, ssl, sys, time
host, port, ca, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def check(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)
ctx = ssl.create_default_context(cafile=ca)
m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
typ, _ = m.login(user, pw); check(typ == "OK", "login")
typ, caps = m.capability(); check(b"IMAP4rev2" in caps[0] and b"MOVE" in caps[0], "caps %r" % caps)
typ, _ = m.create("Receipts"); check(typ == "OK", "create")
typ, data = m.list(); check(any(b"Receipts" in l for l in data), "list %r" % data)
msg = b"From: py@example.net\r\nSubject: from python\r\n\r\nHello imaplib\r\n"
typ, data = m.append("INBOX", r"(\Flagged)", imaplib.Time2Internaldate(time.time()), msg)
check(typ == "OK" and b"APPENDUID" in data[0], "append %r" % data)
typ, data = m.select("INBOX"); check(typ == "OK" and data[0] == b"2", "select %r" % data)
typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)"); check(typ == "OK" and len([d for d in data if d]) == 2, "fetch %r" % data)
typ, data = m.uid("FETCH", "2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.5>)")
check(typ == "OK" and b"from python" in data[0][1] and data[1][1] == b"Hello", "fetch sections %r" % data)
typ, data = m.search(None, "FLAGGED"); check(data == [b"2"], "search flagged %r" % data)
typ, data = m.search(None, "TEXT", '"imaplib"'); check(data == [b"2"], "search text %r" % data)
typ, data = m.store("1", "+FLAGS", r"(\Seen $Label1)"); check(typ == "OK" and b"$Label1" in data[0], "store %r" % data)
typ, data = m.copy("1", "Receipts"); check(typ == "OK", "copy %r" % data)
typ, data = m.uid("MOVE", "2", "Receipts"); check(typ == "OK", "move %r" % data)
typ, data = m.status("Receipts", "(MESSAGES UNSEEN SIZE)"); check(b"MESSAGES 2" in data[0], "status %r" % data)
typ, data = m.select("INBOX"); check(data[0] == b"1", "reselect %r" % data)
typ, data = m.store("1", "+FLAGS.SILENT", r"(\Deleted)"); check(typ == "OK" and data == [None], "silent %r" % data)
typ, data = m.expunge(); check(data == [b"1"], "expunge %r" % data)
typ, _ = m.close(); check(typ == "OK", "close")
typ, _ = m.rename("Receipts", "OldReceipts"); check(typ == "OK", "rename")
typ, _ = m.delete("OldReceipts"); check(typ == "OK", "delete")
typ, data = m.select("..", readonly=True); check(typ == "NO", "select .. %r" % data)
m.logout()
print("OK")
`

// TestPythonImaplib drives a whole session with Python's imaplib.
func TestPythonImaplib(t *testing.T) {
	py := testkit.RequireTool(t, "python3")
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("first", "body"))
	script := filepath.Join(e.dir, "session.py")
	os.WriteFile(script, []byte(imaplibScript), 0o600)
	host, port := splitAddr(t, e.tlsAddr)
	out := run(t, e.dir, py, script, host, port, e.caFile, testkit.AnnaUser, testkit.AnnaPass)
	if !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("imaplib: %s", out)
	}
}

// TestCurl lists, fetches and appends with curl over IMAPS and STARTTLS.
func TestCurl(t *testing.T) {
	curl := testkit.RequireTool(t, "curl")
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("curl one", "fetched by curl"))
	if err := e.folder(testkit.AnnaUser, "INBOX").UIDValidity(); err == 0 {
		t.Fatal("no UIDVALIDITY")
	}
	base := "imaps://" + e.tlsAddr
	common := []string{"-sS", "--cacert", e.caFile, "-u", testkit.AnnaUser + ":" + testkit.AnnaPass, "--max-time", "20"}

	out := run(t, e.dir, curl, append(common, base+"/")...)
	if !strings.Contains(out, "INBOX") || !strings.Contains(out, "Trash") && !strings.Contains(out, "Sent") {
		t.Fatalf("curl LIST:\n%s", out)
	}
	out = run(t, e.dir, curl, append(common, base+"/INBOX;UID=1")...)
	if out != msg("curl one", "fetched by curl") {
		t.Fatalf("curl FETCH: %q", out)
	}
	file := filepath.Join(e.dir, "up.eml")
	up := msg("uploaded by curl", "appended")
	os.WriteFile(file, []byte(up), 0o600)
	run(t, e.dir, curl, append(common, "-T", file, base+"/INBOX")...)
	msgs, _, err := e.folder(testkit.AnnaUser, "INBOX").Messages()
	if err != nil || len(msgs) != 2 || msgs[1].Size != int64(len(up)) {
		t.Fatalf("after curl APPEND: %v %+v", err, msgs)
	}
	// STARTTLS on the plain port.
	out = run(t, e.dir, curl, append(common, "--ssl-reqd", "imap://"+e.addr+"/INBOX;UID=2")...)
	if out != up {
		t.Fatalf("curl STARTTLS FETCH: %q", out)
	}
}

// TestMbsync syncs an account both ways with isync: server → local, then
// local changes (flags, a deletion, a new folder with a message) back, and
// a third run that has nothing to do.
func TestMbsync(t *testing.T) {
	mbsync := testkit.RequireTool(t, "mbsync")
	e := newEnv(t, Config{})
	e.put(testkit.AnnaUser, "INBOX", msg("m1", "one"), msg("m2", "two"), msg("m3", "three"))
	e.put(testkit.AnnaUser, "Archive", msg("old", "archived"))
	local := filepath.Join(e.dir, "local")
	os.MkdirAll(local, 0o700)
	_, port := splitAddr(t, e.tlsAddr)
	rc := fmt.Sprintf(`IMAPAccount test
Host %s
Port %s
User %s
Pass %s
SSLType IMAPS
CertificateFile %s

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Remove Both
Expunge Both
SyncState *
`, "localhost", port, testkit.AnnaUser, testkit.AnnaPass, e.caFile, local, local)
	rcFile := filepath.Join(e.dir, "mbsyncrc")
	os.WriteFile(rcFile, []byte(rc), 0o600)
	sync := func() string { return run(t, e.dir, mbsync, "-c", rcFile, "-a") }

	sync()
	cur := func(folder string) []string {
		var names []string
		for _, sub := range []string{"cur", "new"} {
			ents, _ := os.ReadDir(filepath.Join(local, folder, sub))
			for _, en := range ents {
				names = append(names, filepath.Join(folder, sub, en.Name()))
			}
		}
		return names
	}
	if n := len(cur("INBOX")); n != 3 {
		t.Fatalf("local INBOX has %d messages after first sync, want 3", n)
	}
	if n := len(cur("Archive")); n != 1 {
		t.Fatalf("local Archive has %d messages, want 1", n)
	}

	// Local changes: flag one, delete one (T flag + expunge), new folder.
	in := cur("INBOX")
	slices.Sort(in)
	os.Rename(filepath.Join(local, in[0]), filepath.Join(local, moveToCur(in[0]))+"FS")
	os.Remove(filepath.Join(local, in[1]))
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(local, "Projects", sub), 0o700)
	}
	os.WriteFile(filepath.Join(local, "Projects", "new", "1700000000.local1.host"), []byte(msg("local new", "from mbsync")), 0o600)
	// A server-side change at the same time.
	e.put(testkit.AnnaUser, "INBOX", msg("m4", "four"))
	sync()

	inbox := e.folder(testkit.AnnaUser, "INBOX")
	msgs, _, _ := inbox.Messages()
	var flagged, total int
	for _, m := range msgs {
		total++
		if slices.Contains(m.Flags, `\Flagged`) && slices.Contains(m.Flags, `\Seen`) {
			flagged++
		}
	}
	if total != 3 || flagged != 1 {
		t.Fatalf("server INBOX after upload sync: %d messages, %d flagged+seen; want 3, 1: %+v", total, flagged, msgs)
	}
	pm, _, err := e.folder(testkit.AnnaUser, "Projects").Messages()
	if err != nil || len(pm) != 1 {
		t.Fatalf("server Projects: %v %+v", err, pm)
	}
	if n := len(cur("INBOX")); n != 3 {
		t.Fatalf("local INBOX has %d after second sync, want 3", n)
	}

	// Nothing changed: the next run transfers nothing.
	before := snapshot(t, local)
	out := run(t, e.dir, mbsync, "-V", "-c", rcFile, "-a")
	if after := snapshot(t, local); after != before {
		t.Fatalf("third sync changed the local store:\n%s\n---\n%s\n%s", before, after, out)
	}
	msgs2, _, _ := inbox.Messages()
	if fmt.Sprint(msgs2) != fmt.Sprint(msgs) {
		t.Fatalf("third sync changed the server: %v -> %v", msgs, msgs2)
	}
}

// moveToCur maps a new/ path to cur/ with an empty info suffix.
func moveToCur(p string) string {
	p = strings.Replace(p, string(filepath.Separator)+"new"+string(filepath.Separator), string(filepath.Separator)+"cur"+string(filepath.Separator), 1)
	if i := strings.Index(p, ":2,"); i >= 0 {
		p = p[:i]
	}
	return p + ":2,"
}

// snapshot lists every message file name under dir (state files excluded).
func snapshot(t *testing.T, dir string) string {
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(d.Name(), ".mbsync") && !strings.HasPrefix(d.Name(), ".uidvalidity") {
			names = append(names, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	slices.Sort(names)
	return strings.Join(names, "\n")
}

func splitAddr(t testing.TB, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	return addr[:i], addr[i+1:]
}
