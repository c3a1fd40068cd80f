package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"postern/imapd"
	"postern/pop3d"
	"postern/smtpd"
	"postern/smtpd/queue"
)

// checkFile writes file to a temporary bad.toml and runs "postern check"
// on it, returning the exit code and standard error.
func checkFile(t *testing.T, file string) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"check", "-config", path})
	return code, errb.String()
}

// Keys a file leaves out of [smtp], [imap], [pop3] and [queue] keep the
// packages' defaults.
func TestConfigSectionsTakeDefaults(t *testing.T) {
	t.Parallel()
	cfg, warns, err := parseConfig("postern.toml", []byte(minimalValid+"[imap]\nidle_timeout = \"45m\"\n"))
	if err != nil || len(warns) > 0 {
		t.Fatalf("err %v, warnings %v", err, warns)
	}
	wantIMAP := imapd.DefaultConfig()
	wantIMAP.IdleTimeout = 45 * time.Minute
	if cfg.IMAP != wantIMAP || !reflect.DeepEqual(cfg.SMTP, smtpd.DefaultConfig()) || cfg.POP3 != pop3d.DefaultConfig() ||
		!reflect.DeepEqual(cfg.Queue, queue.DefaultConfig()) {
		t.Fatalf("sections:\n%+v\n%+v\n%+v\n%+v", cfg.SMTP, cfg.IMAP, cfg.POP3, cfg.Queue)
	}
}

// "postern check" reports a bad value in each protocol section with the
// line that sets it, all at once.
func TestCheckReportsEverySectionWithItsLine(t *testing.T) {
	t.Parallel()
	file := minimalValid + // lines 1-3
		"[smtp]\n" + // 4
		"max_connections = 0\n" + // 5
		"read_timeout = \"48h\"\n" + // 6
		"[imap]\n" + // 7
		"max_connections_per_user_ip = -1\n" + // 8
		"max_message_bytes = 5000000000\n" + // 9
		"[pop3]\n" + // 10
		"idle_timeout = 600\n" + // 11: an integer is nanoseconds
		"[queue]\n" + // 12
		"workers = 0\n" + // 13
		"retry = []\n" + // 14
		"[queue.smarthost]\n" + // 15
		"address = \"smtp.example.net\"\n" // 16
	code, stderr := checkFile(t, file)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"bad.toml:5: smtp.max_connections: must be at least 1, got 0",
		"bad.toml:6: smtp.read_timeout: must be between 1s and 24h0m0s, got 48h0m0s",
		"bad.toml:8: imap.max_connections_per_user_ip: must be at least 1, got -1",
		"bad.toml:9: imap.max_message_bytes: must be between 1 and 4294967295, got 5000000000",
		"bad.toml:11: pop3.idle_timeout: must be between 1s and 24h0m0s, got 600ns",
		"bad.toml:13: queue.workers: must be at least 1, got 0",
		"bad.toml:14: queue.retry: must list at least one wait",
		`bad.toml:16: queue.smarthost.address: not a host:port address: "smtp.example.net"`,
		"8 problem(s)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// An old key name still sets its value, with a warning that names the new
// key; "postern check" passes.
func TestRenamedKeyStillWorksWithAWarning(t *testing.T) {
	t.Parallel()
	file := minimalValid + "[imap]\nmax_conns = 700\nappend_limit = 1048576\n"
	cfg, warns, err := parseConfig("postern.toml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IMAP.MaxConnections != 700 || cfg.IMAP.MaxMessageBytes != 1<<20 {
		t.Errorf("old keys not applied: %+v", cfg.IMAP)
	}
	want := []string{
		"postern.toml:5: warning: imap.max_conns: renamed to imap.max_connections; the old name still works for now",
		"postern.toml:6: warning: imap.append_limit: renamed to imap.max_message_bytes; the old name still works for now",
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	code, stderr := checkFile(t, strings.Replace(file, "hostname", "user = \"nobody\"\ndata_dir = \"/nonexistent/postern\"\nhostname", 1))
	if code != 0 || !strings.Contains(stderr, "warning: imap.max_conns: renamed to imap.max_connections") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// An old key name with a bad value is reported at its own line; old and
// new name together are an error.
func TestRenamedKeyErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, file, want string }{
		{"bad value under the old name", minimalValid + "[imap]\nmax_conns = 0\n",
			"postern.toml:5: imap.max_conns: must be at least 1, got 0"},
		{"both names", minimalValid + "[imap]\nmax_conns = 5\nmax_connections = 6\n",
			"postern.toml:5: imap.max_conns: old name of imap.max_connections, which is also set; keep only imap.max_connections"},
		{"wrong type under the old name", minimalValid + "[imap]\nmax_conns = \"many\"\n",
			"postern.toml:5: imap.max_conns: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseConfig("postern.toml", []byte(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error\n  %v\nwant it to contain\n  %s", err, c.want)
			}
		})
	}
}
