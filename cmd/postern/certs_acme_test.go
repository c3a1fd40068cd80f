package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// pebbleVersionDir is where "go install ...pebble/v2@v2.10.3" leaves the
// module, with its test certificates for the ACME API listener.
const pebbleModule = "github.com/letsencrypt/pebble/v2@v2.10.3"

// pebbleCertValidity is the lifetime of the certificates the test Pebble
// issues: short, so that certmagic's renewal (renew_check_interval 1s)
// replaces the certificate while the test watches.
const pebbleCertValidity = 40 // seconds

// pebble is a running Pebble CA with its DNS server (pebble-challtestsrv
// answering 127.0.0.1 for every name).
type pebble struct {
	dir      string // ACME directory URL
	minica   string // PEM file trusted for the ACME API
	mgmt     string // management address, for /roots/0
	httpPort int    // where Pebble's VA connects for HTTP-01
	tlsPort  int    // where Pebble's VA connects for TLS-ALPN-01
}

func startPebble(t *testing.T) *pebble {
	t.Helper()
	gobin := goEnv(t, "GOPATH")
	pebbleBin := testkit.RequireTool(t, "pebble", filepath.Join(gobin, "bin", "pebble"))
	challBin := testkit.RequireTool(t, "pebble-challtestsrv", filepath.Join(gobin, "bin", "pebble-challtestsrv"))
	certs := filepath.Join(goEnv(t, "GOMODCACHE"), "github.com", "letsencrypt", "pebble", "v2@v2.10.3", "test", "certs")
	if _, err := os.Stat(filepath.Join(certs, "pebble.minica.pem")); err != nil {
		// The binaries were installed some other way: fetch the module.
		if out, err := exec.Command("go", "mod", "download", pebbleModule).CombinedOutput(); err != nil {
			t.Fatalf("pebble test certificates: %v\n%s", err, out)
		}
	}
	dnsPort, chMgmt := testkit.FreePort(t), testkit.FreePort(t)
	startProc(t, "pebble-challtestsrv", nil, challBin,
		"-dnsserver", testkit.Loopback(dnsPort), "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-management", testkit.Loopback(chMgmt), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	waitListening(t, testkit.Loopback(chMgmt))

	pb := &pebble{minica: filepath.Join(certs, "pebble.minica.pem"), httpPort: testkit.FreePort(t), tlsPort: testkit.FreePort(t)}
	api, mgmt := testkit.FreePort(t), testkit.FreePort(t)
	pb.dir = "https://" + testkit.Loopback(api) + "/dir"
	pb.mgmt = testkit.Loopback(mgmt)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           testkit.Loopback(api),
		"managementListenAddress": pb.mgmt,
		"certificate":             filepath.Join(certs, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(certs, "localhost", "key.pem"),
		"httpPort":                pb.httpPort,
		"tlsPort":                 pb.tlsPort,
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "short-lived, for the renewal test", "validityPeriod": pebbleCertValidity}},
	}}
	b, _ := json.Marshal(conf)
	confPath := filepath.Join(t.TempDir(), "pebble.json")
	os.WriteFile(confPath, b, 0o644)
	startProc(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}, pebbleBin,
		"-config", confPath, "-dnsserver", testkit.Loopback(dnsPort))
	waitListening(t, testkit.Loopback(api))
	waitListening(t, pb.mgmt)
	return pb
}

// root returns the per-run root that signs Pebble's certificates.
func (pb *pebble) root(t *testing.T) *x509.CertPool {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
	resp, err := c.Get("https://" + pb.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pemBytes, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("no root from pebble: %q", pemBytes)
	}
	return pool
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.SplitN(string(out), string(os.PathListSeparator), 2)[0])
}

// waitListening waits until something accepts TCP connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// acmeServer starts "postern serve" against pb for mail.test, with only
// the given challenge type possible, and returns its listeners.
func acmeServer(t *testing.T, pb *pebble, challenge string) (*proc, mailListeners) {
	t.Helper()
	httpAddr, httpsAddr := "", ""
	switch challenge {
	case "http-01":
		httpAddr = testkit.Loopback(pb.httpPort)
	case "tls-alpn-01":
		httpsAddr = testkit.Loopback(pb.tlsPort)
	}
	top := fmt.Sprintf("hostname = \"mail.test\"\ndata_dir = %q\nshutdown_timeout = \"5s\"\n", filepath.Join(openTempDir(t), "data"))
	sections := fmt.Sprintf(`http = %q
https = %q
[accounts]
domains = ["mail.test"]
[tls]
mode = "acme"
email = "postmaster@mail.test"
ca = %q
ca_root = %q
renew_check_interval = "1s"
[log]
level = "debug"
`, httpAddr, httpsAddr, pb.dir, pb.minica)
	p, ls := serveOnLoopback(t, top, sections)
	return p, ls
}

// presentedCert does the protocol's TLS start on addr ("implicit" or the
// STARTTLS dialect of proto) and returns the verified leaf certificate.
func presentedCert(t *testing.T, proto, addr, serverName string, roots *x509.CertPool) (*x509.Certificate, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(c)
	expect := func(prefix string) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("%s: reading reply: %w", proto, err)
			}
			if !strings.HasPrefix(line, prefix) {
				return fmt.Errorf("%s: got %q, want %q", proto, line, prefix)
			}
			// SMTP multi-line replies continue with "250-".
			if len(line) > 3 && line[3] == '-' && strings.HasPrefix(prefix, "2") {
				continue
			}
			return nil
		}
	}
	say := func(s string) { io.WriteString(c, s+"\r\n") }
	switch proto {
	case "implicit":
	case "smtp":
		if err := expect("220"); err != nil {
			return nil, err
		}
		say("EHLO client.test")
		if err := expect("250"); err != nil {
			return nil, err
		}
		say("STARTTLS")
		if err := expect("220"); err != nil {
			return nil, err
		}
	case "imap":
		if err := expect("* OK"); err != nil {
			return nil, err
		}
		say("a STARTTLS")
		if err := expect("a OK"); err != nil {
			return nil, err
		}
	case "pop3":
		if err := expect("+OK"); err != nil {
			return nil, err
		}
		say("STLS")
		if err := expect("+OK"); err != nil {
			return nil, err
		}
	}
	tc := tls.Client(c, &tls.Config{ServerName: serverName, RootCAs: roots, InsecureSkipVerify: serverName == "",
		MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("%s handshake: %w", proto, err)
	}
	leaf := tc.ConnectionState().PeerCertificates[0]
	if serverName == "" { // SNI-less: verify by hand for mail.test
		inter := x509.NewCertPool()
		for _, ic := range tc.ConnectionState().PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "mail.test", Roots: roots, Intermediates: inter}); err != nil {
			return nil, fmt.Errorf("SNI-less certificate: %w", err)
		}
	}
	return leaf, nil
}

// checkEveryListener asserts that every mail listener presents a
// certificate for mail.test that verifies against Pebble's root, and
// returns the serial number seen.
func checkEveryListener(t *testing.T, ls mailListeners, roots *x509.CertPool) string {
	t.Helper()
	checks := []struct{ listener, proto, sni string }{
		{"smtp", "smtp", "mail.test"}, {"smtp", "smtp", ""}, {"submission", "smtp", "mail.test"},
		{"submissions", "implicit", "mail.test"}, {"imap", "imap", "mail.test"}, {"imaps", "implicit", "mail.test"},
		{"imaps", "implicit", ""}, {"pop3", "pop3", "mail.test"}, {"pop3s", "implicit", "mail.test"},
	}
	serial := ""
	for _, c := range checks {
		leaf, err := presentedCert(t, c.proto, ls[c.listener], c.sni, roots)
		if err != nil {
			t.Errorf("%s (%s, sni %q): %v", c.listener, ls[c.listener], c.sni, err)
			continue
		}
		if serial == "" {
			serial = leaf.SerialNumber.String()
		} else if s := leaf.SerialNumber.String(); s != serial {
			// A renewal may land between two checks; the later one wins.
			serial = s
		}
	}
	return serial
}

var certReadyRE = regexp.MustCompile(`certificate ready`)

func TestACMEHTTP01WithRenewal(t *testing.T) {
	t.Parallel()
	pb := startPebble(t)
	srv, ls := acmeServer(t, pb, "http-01")
	srv.waitFor(certReadyRE, 60*time.Second)
	roots := pb.root(t)
	first := checkEveryListener(t, ls, roots)
	if t.Failed() {
		return
	}

	// Pebble's certificates live pebbleCertValidity seconds; certmagic
	// renews in the last third. The listeners must present the new one
	// without a restart.
	deadline := time.Now().Add(3 * pebbleCertValidity * time.Second)
	for {
		leaf, err := presentedCert(t, "implicit", ls["imaps"], "mail.test", roots)
		if err == nil && leaf.SerialNumber.String() != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate not renewed within %ds (last error %v)", 3*pebbleCertValidity, err)
		}
		time.Sleep(time.Second)
	}
	renewed := checkEveryListener(t, ls, roots)
	if renewed == first {
		t.Fatal("listeners still present the first certificate after renewal")
	}
	if err, took := srv.signalAndWait(sigTERM, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %v)", err, took)
	}
}

func TestACMETLSALPN01(t *testing.T) {
	t.Parallel()
	pb := startPebble(t)
	srv, ls := acmeServer(t, pb, "tls-alpn-01")
	srv.waitFor(certReadyRE, 60*time.Second)
	checkEveryListener(t, ls, pb.root(t))
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		if uid := processUID(t, srv.cmd.Process.Pid); strconv.Itoa(uid) != nobody.Uid {
			t.Errorf("started as root, running as uid %d; want nobody (%s)", uid, nobody.Uid)
		}
	}
	if err, took := srv.signalAndWait(sigTERM, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %v)", err, took)
	}
}

// Before the first certificate, port 25 takes mail without STARTTLS and
// nothing that needs a login is offered.
func TestACMEWaitingStillAcceptsPlainSMTP(t *testing.T) {
	t.Parallel()
	deadCA := &pebble{dir: "https://" + testkit.FreeAddr(t) + "/dir", minica: "", httpPort: testkit.FreePort(t), tlsPort: testkit.FreePort(t)}
	srv, ls := acmeServer(t, deadCA, "http-01")
	srv.waitFor(regexp.MustCompile(`waiting for certificate`), 30*time.Second)
	waitListening(t, ls["smtp"])

	c, err := net.DialTimeout("tcp", ls["smtp"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	var transcript strings.Builder
	readReply := func() string {
		var last string
		for {
			line, err := r.ReadString('\n')
			transcript.WriteString("S: " + line)
			if err != nil {
				t.Fatalf("%v\n%s", err, transcript.String())
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return last
			}
		}
	}
	send := func(s string) { transcript.WriteString("C: " + s + "\r\n"); io.WriteString(c, s+"\r\n") }
	readReply()
	send("EHLO client.test")
	readReply()
	if strings.Contains(transcript.String(), "STARTTLS") || strings.Contains(transcript.String(), "AUTH") {
		t.Errorf("STARTTLS/AUTH offered without a certificate:\n%s", transcript.String())
	}
	send("MAIL FROM:<a@elsewhere.test>")
	if r := readReply(); !strings.HasPrefix(r, "250") {
		t.Errorf("MAIL refused:\n%s", transcript.String())
	}
	send("QUIT")
	readReply()

	for _, n := range []string{"submission", "submissions", "imaps", "pop3s"} {
		if c, err := net.DialTimeout("tcp", ls[n], time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 1)
			if _, err := c.Read(buf); err == nil {
				t.Errorf("%s answers before the certificate is there", n)
			}
			c.Close()
		}
	}
	if err, took := srv.signalAndWait(sigTERM, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v (after %v)", err, took)
	}
}
