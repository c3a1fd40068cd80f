package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"postern/smtpd/queue"
)

// "postern dkim keygen" writes a 0600 PEM key and prints a TXT record
// whose quoted strings are at most 255 bytes and join to a valid DKIM
// public-key record.
func TestDKIMKeygen(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	var out, errb bytes.Buffer
	code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"dkim", "keygen", "Example.org", "-selector", "mail1", "-data", data})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	key := filepath.Join(data, "dkim", "example.org", "mail1.key")
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	b, _ := os.ReadFile(key)
	if _, err := queue.ParsePrivateKey(b); err != nil {
		t.Fatalf("key does not parse: %v", err)
	}
	if !strings.Contains(out.String(), "mail1._domainkey.example.org. IN TXT ( \"v=DKIM1; k=rsa; p=") {
		t.Fatalf("output:\n%s", out.String())
	}
	var joined string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(out.String(), -1) {
		if len(m[1]) > 255 {
			t.Fatalf("TXT string of %d bytes", len(m[1]))
		}
		joined += m[1]
	}
	if !regexp.MustCompile(`^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{300,}=*$`).MatchString(joined) {
		t.Fatalf("joined record %q", joined)
	}

	// The same selector again is refused rather than overwritten.
	errb.Reset()
	if code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"dkim", "keygen", "example.org", "-selector", "mail1", "-data", data}); code != 1 || !strings.Contains(errb.String(), "exists") {
		t.Fatalf("second keygen: exit %d, %q", code, errb.String())
	}
	// Ed25519 keys fit in one string.
	out.Reset()
	if code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"dkim", "keygen", "-algo", "ed25519", "-selector", "ed1", "-data", data, "example.org"}); code != 0 {
		t.Fatalf("ed25519 keygen: exit %d, %q", code, errb.String())
	}
	if !regexp.MustCompile(`IN TXT \( "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=" \)`).MatchString(out.String()) {
		t.Fatalf("ed25519 output:\n%s", out.String())
	}
}

func TestDKIMUsage(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"dkim"}, {"dkim", "keygen"}, {"dkim", "rotate"}} {
		errb.Reset()
		if code := run(&cmdEnv{stdout: &out, stderr: &errb}, args); code != 2 || !strings.Contains(errb.String(), "usage: postern dkim keygen") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
	if code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"dkim", "keygen", "a.org", "-selector", "bad/sel", "-data", t.TempDir()}); code != 1 {
		t.Errorf("bad selector accepted: exit %d", code)
	}
}
