package main

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// minimalValid is the smallest file that passes validation in acme mode.
const minimalValid = `hostname = "mail.example.org"
[tls]
email = "postmaster@example.org"
`

func TestConfigDefaultsFillUnsetKeys(t *testing.T) {
	t.Parallel()
	cfg, _, err := parseConfig("postern.toml", []byte(minimalValid))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/postern" || cfg.User != "postern" || cfg.ShutdownTimeout != 30*time.Second {
		t.Errorf("defaults: data_dir %q user %q shutdown %v", cfg.DataDir, cfg.User, cfg.ShutdownTimeout)
	}
	if cfg.Listen.SMTP != ":25" || cfg.Listen.IMAPS != ":993" || cfg.Listen.HTTP != ":80" {
		t.Errorf("listen defaults: %+v", cfg.Listen)
	}
	if cfg.TLS.Mode != "acme" || cfg.TLS.acmeCA() != letsEncryptProduction {
		t.Errorf("tls defaults: mode %q ca %q", cfg.TLS.Mode, cfg.TLS.acmeCA())
	}
	cfg.TLS.Staging = true
	if cfg.TLS.acmeCA() != letsEncryptStaging {
		t.Errorf("staging switch: %q", cfg.TLS.acmeCA())
	}
}

// Every documented error case (docs/config.md "Errors") and the message
// it gives, with the line it names.
func TestConfigErrorsNameTheLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, want string
	}{
		{"unknown top-level key", "hostnme = \"x\"\n" + minimalValid,
			"postern.toml:1: hostnme: unknown key"},
		{"unknown key in a table", minimalValid + "mod = \"acme\"\n",
			"postern.toml:4: tls.mod: unknown key"},
		{"unknown table", minimalValid + "[imapp]\nfoo = 1\n",
			"postern.toml:5: imapp.foo: unknown key"},
		{"syntax error", "hostname = \"mail.example.org\"\ndata_dir = \n",
			"postern.toml:2: data_dir: expected value but found"},
		{"wrong type", minimalValid + "staging = \"yes\"\n",
			"line 4"},
		{"bad duration", "shutdown_timeout = \"soon\"\n" + minimalValid,
			`postern.toml:1: shutdown_timeout: invalid duration: "soon"`},
		{"bad tls mode", "hostname = \"mail.example.org\"\n[tls]\nmode = \"letsencrypt\"\n",
			`postern.toml:3: tls.mode: must be "acme", "files" or "self-signed", got "letsencrypt"`},
		{"acme without email", "hostname = \"mail.example.org\"\n",
			"postern.toml: tls.email: acme mode needs a contact address"},
		{"relative data dir", "data_dir = \"data\"\n" + minimalValid,
			`postern.toml:1: data_dir: must be an absolute path, got "data"`},
		{"bad listen address", minimalValid + "[listen]\nimaps = \"993\"\n",
			`postern.toml:5: listen.imaps: not a host:port address: "993"`},
		{"port out of range", minimalValid + "[listen]\npop3 = \":99999\"\n",
			`postern.toml:5: listen.pop3: bad port in ":99999"`},
		{"same address twice", minimalValid + "[listen]\nimap = \":25\"\n",
			`postern.toml:5: listen.imap: address ":25" is also used by listen.smtp`},
		{"bad hostname", "hostname = \"mail_server\"\n[tls]\nemail = \"a@b.c\"\n",
			`postern.toml:1: hostname: not a valid host name: "mail_server"`},
		{"bad domain", minimalValid + "[accounts]\ndomains = [\"ex ample.org\"]\n",
			`postern.toml:5: accounts.domains: not a valid host name: "ex ample.org"`},
		{"files mode without files", "hostname = \"mail.example.org\"\n[tls]\nmode = \"files\"\n",
			"postern.toml:2: tls.cert: files mode needs a certificate file"},
		{"files mode, missing file", "hostname = \"mail.example.org\"\n[tls]\nmode = \"files\"\ncert = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n",
			"postern.toml:4: tls.cert: load certificate /nonexistent/c.pem"},
		{"ca and staging together", minimalValid + "ca = \"https://ca.example/dir\"\nstaging = true\n",
			"postern.toml:5: tls.staging: set either tls.ca or tls.staging, not both"},
		{"ca not a URL", minimalValid + "ca = \"ca.example\"\n",
			`postern.toml:4: tls.ca: not an ACME directory URL: "ca.example"`},
		{"bad log format", minimalValid + "[log]\nformat = \"xml\"\n",
			`postern.toml:5: log.format: must be "text" or "json", got "xml"`},
		{"bad log level", minimalValid + "[log]\nlevel = \"loud\"\n",
			`postern.toml:5: log.level: must be "debug", "info", "warn" or "error", got "loud"`},
		{"shutdown too long", "shutdown_timeout = \"1h\"\n" + minimalValid,
			"postern.toml:1: shutdown_timeout: must be between 1s and 10m, got 1h0m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parseConfig("postern.toml", []byte(c.file))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.file)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error\n  %v\nwant it to contain\n  %s", err, c.want)
			}
		})
	}
}

func TestConfigListsEveryProblem(t *testing.T) {
	t.Parallel()
	file := "hostname = \"mail.example.org\"\nbogus = 1\n[tls]\nmode = \"x\"\n[log]\nformat = \"xml\"\n"
	_, _, err := parseConfig("postern.toml", []byte(file))
	probs, ok := err.(configErrors)
	if !ok {
		t.Fatalf("error %T %v", err, err)
	}
	var lines []int
	for _, p := range probs {
		lines = append(lines, p.Line)
	}
	if len(probs) != 3 || lines[0] != 2 || lines[1] != 4 || lines[2] != 6 {
		t.Fatalf("want problems on lines 2, 4, 6; got %v:\n%v", lines, err)
	}
}

func TestCheckPassesShippedExample(t *testing.T) {
	t.Parallel()
	example := filepath.Join("..", "..", "docs", "postern.example.toml")
	if _, err := user.Lookup("postern"); err != nil && os.Geteuid() == 0 {
		// As root, check verifies that the configured user exists; this
		// machine has no "postern" account, so check a copy naming one
		// that exists everywhere.
		b, err := os.ReadFile(example)
		if err != nil {
			t.Fatal(err)
		}
		example = filepath.Join(t.TempDir(), "postern.example.toml")
		os.WriteFile(example, bytes.Replace(b, []byte(`user = "postern"`), []byte(`user = "nobody"`), 1), 0o600)
	}
	var out, errb bytes.Buffer
	code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"check", "-config", example})
	if code != 0 {
		t.Fatalf("postern check %s: exit %d\n%s%s", example, code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "postern.example.toml: OK") {
		t.Fatalf("output: %q", out.String())
	}
}

func TestCheckListsProblemsAndFails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(path, []byte("hostname = \"mail.example.org\"\ndata_dir = \"rel\"\n[tls]\nmode = \"nope\"\n"), 0o600)
	var out, errb bytes.Buffer
	code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"check", "-config", path})
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"bad.toml:2: data_dir:", "bad.toml:4: tls.mode:", "2 problem(s)"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestCheckValidatesAccountsFiles(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "accounts"), 0o700)
	os.WriteFile(filepath.Join(data, "accounts", "users"), []byte("this is not a passwd line\n"), 0o600)
	path := filepath.Join(t.TempDir(), "p.toml")
	os.WriteFile(path, []byte("hostname = \"mail.example.org\"\nuser = \"nobody\"\ndata_dir = \""+data+"\"\n[tls]\nmode = \"self-signed\"\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run(&cmdEnv{stdout: &out, stderr: &errb}, []string{"check", "-config", path}); code != 1 {
		t.Fatalf("exit %d with a broken users file; stderr %q", code, errb.String())
	}
	if !strings.Contains(errb.String(), "users") {
		t.Fatalf("stderr does not name the users file: %q", errb.String())
	}
}
