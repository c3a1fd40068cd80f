package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// modeCase is a path under the data directory, the mode a test gives it
// and the mode it must have after a start.
type modeCase struct {
	rel        string
	mode, want fs.FileMode
}

// looseDataDir lays out a data directory the way a careless operator (or
// a restore with a wide umask) might leave it, every mode chmod'ed
// explicitly so that the umask does not matter, and returns the modes
// each path must have after a start. queueFile adds a file inside
// queue/.
func looseDataDir(t *testing.T, data string, queueFile bool) map[string]fs.FileMode {
	t.Helper()
	if _, err := selfSignedCert(filepath.Join(data, "certs", "self-signed"), []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	files := []modeCase{
		{"accounts/users", 0o644, 0o600},
		{"accounts/aliases", 0o666, 0o640},
		{"accounts/domains", 0o600, 0o600}, // stricter than promised: kept
		{"accounts/users.bak", 0o644, 0o600},
		{"dkim/example.test/p1.key", 0o644, 0o600},
		{"certs/self-signed/key.pem", 0o644, 0o600},
		{"certs/self-signed/cert.pem", 0o644, 0o644}, // public
	}
	if queueFile {
		files = append(files, modeCase{"queue/operator-note", 0o644, 0o600})
	} else if err := os.MkdirAll(filepath.Join(data, "queue"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{}
	for _, f := range files {
		p := filepath.Join(data, f.rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); os.IsNotExist(err) {
			content := ""
			if f.rel == "accounts/users" || f.rel == "accounts/users.bak" {
				content = testkit.Passwd()
			}
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		want[f.rel] = f.want
	}
	for _, f := range files {
		if err := os.Chmod(filepath.Join(data, f.rel), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	dirs := []modeCase{
		{".", 0o755, 0o750},
		{"accounts", 0o755, 0o700},
		{"dkim", 0o755, 0o700},
		{"dkim/example.test", 0o775, 0o700},
		{"queue", 0o755, 0o700},
		{"certs", 0o755, 0o700},
		{"certs/self-signed", 0o755, 0o700},
	}
	for _, d := range dirs {
		if err := os.Chmod(filepath.Join(data, d.rel), d.mode); err != nil {
			t.Fatal(err)
		}
		want[d.rel] = d.want
	}
	return want
}

// checkModes fails for every path whose permission bits differ from want.
func checkModes(t *testing.T, data string, want map[string]fs.FileMode) {
	t.Helper()
	for rel, m := range want {
		fi, err := os.Lstat(filepath.Join(data, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if got := fi.Mode().Perm(); got != m {
			t.Errorf("%s: mode %#o, want %#o", rel, got, m)
		}
	}
}

// prepareDataDir removes the bits beyond the documented modes, keeps
// stricter ones, logs each change, does not follow symbolic links, and
// creates a missing data directory with the documented modes (logging
// nothing then).
func TestPrepareDataDirTightensModes(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	want := looseDataDir(t, data, true)
	outside := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outside, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(data, "accounts", "link")); err != nil {
		t.Fatal(err)
	}

	logs := &testkit.SyncBuffer{}
	if err := prepareDataDir(data, TLSConfig{Mode: "self-signed"}, testkit.DebugLogger(logs)); err != nil {
		t.Fatal(err)
	}
	checkModes(t, data, want)
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("symbolic link followed: %v %v", fi.Mode(), err)
	}
	users := regexp.QuoteMeta(filepath.Join(data, "accounts", "users"))
	if !regexp.MustCompile(`level=INFO msg="tightened permissions" path=` + users + ` old=0644 new=0600`).MatchString(logs.String()) {
		t.Errorf("no log line for the users file:\n%s", logs)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	logs = &testkit.SyncBuffer{}
	if err := prepareDataDir(fresh, TLSConfig{Mode: "self-signed"}, testkit.DebugLogger(logs)); err != nil {
		t.Fatal(err)
	}
	checkModes(t, fresh, map[string]fs.FileMode{".": 0o750, "accounts": 0o700, "mail": 0o750})
	if logs.Contains("tightened") {
		t.Errorf("a fresh data directory needed tightening:\n%s", logs)
	}
}

// In files mode, a key file every user may read is a warning; Postern
// leaves the operator's file alone.
func TestWorldReadableKeyFileIsAWarning(t *testing.T) {
	t.Parallel()
	_, key := testkit.WriteCert(t, t.TempDir())
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	tightenModes(filepath.Join(t.TempDir(), "data"), TLSConfig{Mode: "files", Key: key}, testkit.DebugLogger(logs))
	if !logs.Contains("level=WARN msg=\"TLS key file is readable by every user") {
		t.Errorf("no warning:\n%s", logs)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o644 {
		t.Errorf("key file mode changed to %#o", fi.Mode().Perm())
	}
}

// "postern serve" on a data directory left 0755 with a 0644 users file
// (and loose DKIM keys, queue, certificate key) tightens them all at
// start, logging each, and serves (the self-signed key it tightened still
// loads). As root it drops to "nobody" first, so the changes are made as
// the owner the privilege drop gave the files.
func TestServeTightensDataDirModes(t *testing.T) {
	t.Parallel()
	data := filepath.Join(openTempDir(t), "data")
	want := looseDataDir(t, data, true)
	top := fmt.Sprintf("hostname = \"localhost\"\ndata_dir = %q\nshutdown_timeout = \"5s\"\n", data)
	srv, ls := serveOnLoopback(t, top, "[accounts]\ndomains = [\"example.test\"]\n[tls]\nmode = \"self-signed\"\n")
	srv.waitFor(regexp.MustCompile(`listener=pop3s`), 30*time.Second)
	waitListening(t, ls["imaps"])
	checkModes(t, data, want)
	for _, rel := range []string{"", "accounts/users", "accounts", "certs/self-signed/key.pem"} {
		path := regexp.QuoteMeta(filepath.Join(data, rel))
		if !regexp.MustCompile(`msg="tightened permissions" path=` + path + ` old=`).MatchString(srv.output()) {
			t.Errorf("no \"tightened permissions\" line for %s", filepath.Join(data, rel))
		}
	}
	if err, took := srv.signalAndWait(sigTERM, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %v)", err, took)
	}
}
