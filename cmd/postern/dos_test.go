package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/accounts/testkit"
)

// The household's attackers, each from its own part of 127.0.0.0/8 (the
// legitimate clients use other /24s, as they would come from elsewhere).
const (
	dosHandshakeTimeout = 2 * time.Second
	// dosBound is how much longer than without the attack a legitimate
	// client may wait (issue 16: "must not delay another address's
	// login by more than 1 s").
	dosBound = time.Second
	// bombMessages is the size of the INBOX the SEARCH bombs run on.
	bombMessages = 16_000
	// otherUserBound is how long another user's whole session (login,
	// SELECT, FETCH, SEARCH, LOGOUT) may take while one user's searches
	// load the server: a guard against being starved or stuck, loose
	// because the test shares two cores with the rest of the suite (the
	// figures are in the log).
	otherUserBound = 5 * time.Second
)

// TestAttacksLeaveTheHouseholdServed drives the attacks of issue 16
// against a running "postern serve", one after the other, each from its
// own loopback addresses, and checks that a legitimate client from
// another address is served within dosBound of its unattacked time while
// the attack runs, and that the server's memory stays within its budget.
func TestAttacksLeaveTheHouseholdServed(t *testing.T) {
	srv, ls := dosServer(t)
	baseline := loginLatency(t, "127.1.0.1", ls["imaps"], "anna@example.test", "secret-pass", 5)
	t.Logf("baseline: IMAPS login from another address, max of 5: %v", baseline)

	t.Run("flood of idle connections from one address", func(t *testing.T) {
		var greeted, refused atomic.Int64
		conns := flood(t, 2000, []string{"127.0.0.2"}, ls["imap"], func(line string) {
			if strings.HasPrefix(line, "* OK") {
				greeted.Add(1)
			} else {
				refused.Add(1)
			}
		})
		tlsConns := flood(t, 2000, []string{"127.0.0.2"}, ls["imaps"], nil)
		worst := loginLatency(t, "127.1.0.1", ls["imaps"], "anna@example.test", "secret-pass", 10)
		t.Logf("flood: %d plain + %d TLS connections from 127.0.0.2 (%d greeted, %d refused); legitimate login max %v (baseline %v)",
			len(conns), len(tlsConns), greeted.Load(), refused.Load(), worst, baseline)
		if worst > baseline+dosBound {
			t.Errorf("legitimate login took %v during the flood (baseline %v)", worst, baseline)
		}
		if greeted.Load() > 20 {
			t.Errorf("%d connections of one address greeted, want at most max_connections_per_ip (20)", greeted.Load())
		}
		if line := greeting(t, "127.1.0.2", ls["imap"]); !strings.HasPrefix(line, "* OK") {
			t.Errorf("plain IMAP from another address during the flood: %q", line)
		}
		closeAll(conns)
		closeAll(tlsConns)
		srv.waitFor(regexp.MustCompile(`msg="connection refused" proto=imap limit=per_ip max=20 source=127\.0\.0\.2`), 5*time.Second)
	})

	t.Run("stalled TLS handshakes", func(t *testing.T) {
		// 1,000 handshakes that stop after the record header, from 50
		// addresses in 10 networks: within every per-address and
		// per-network limit, so only the handshake deadline ends them.
		var srcs []string
		for n := 0; n < 10; n++ {
			for h := 1; h <= 5; h++ {
				srcs = append(srcs, fmt.Sprintf("127.10.%d.%d", n, h))
			}
		}
		start := time.Now()
		conns := stallHandshakes(t, 20, srcs, ls["imaps"])
		worst := loginLatency(t, "127.1.0.1", ls["imaps"], "anna@example.test", "secret-pass", 5)
		t.Logf("%d stalled handshakes on 993; legitimate login max %v (baseline %v)", len(conns), worst, baseline)
		if worst > baseline+dosBound {
			t.Errorf("legitimate login took %v behind stalled handshakes (baseline %v)", worst, baseline)
		}
		closed := waitClosed(conns, 3*dosHandshakeTimeout)
		t.Logf("stalled handshakes closed by the server: %d of %d within %v of the start (tls_handshake_timeout %v)",
			closed, len(conns), time.Since(start).Round(time.Millisecond), dosHandshakeTimeout)
		if closed != len(conns) {
			t.Errorf("%d of %d stalled handshakes still open after %v", len(conns)-closed, len(conns), 3*dosHandshakeTimeout)
		}
		// The same on 465 and 995.
		for _, name := range []string{"submissions", "pop3s"} {
			cs := stallHandshakes(t, 5, srcs[:4], ls[name])
			if n := waitClosed(cs, 3*dosHandshakeTimeout); n != len(cs) {
				t.Errorf("%s: %d of %d stalled handshakes still open", name, len(cs)-n, len(cs))
			}
		}
	})

	t.Run("SMTP filled from one network", func(t *testing.T) {
		var srcs []string
		for h := 1; h <= 30; h++ {
			srcs = append(srcs, fmt.Sprintf("127.0.4.%d", h))
		}
		var greeted, refused atomic.Int64
		conns := flood(t, 600, srcs, ls["smtp"], func(line string) {
			if strings.HasPrefix(line, "220 ") {
				greeted.Add(1)
			} else {
				refused.Add(1)
			}
		})
		start := time.Now()
		sendMail(t, "127.5.0.1", ls["smtp"], "anna@example.test")
		took := time.Since(start)
		t.Logf("SMTP: 600 idle connections from 30 addresses of one /24 (%d greeted, %d refused); a message from another network took %v",
			greeted.Load(), refused.Load(), took)
		if greeted.Load() > 100 {
			t.Errorf("%d connections of one network greeted, want at most max_connections_per_network (100)", greeted.Load())
		}
		closeAll(conns)
	})

	t.Run("guesser against a household member", func(t *testing.T) {
		// Anna's laptop has logged in from its network before.
		loginLatency(t, "127.6.0.1", ls["imaps"], "anna@example.test", "secret-pass", 1)
		guessStart := time.Now()
		var wg sync.WaitGroup
		var answered atomic.Int64
		stop := make(chan struct{})
		for i := 0; i < 200; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					// A guesser does not wait out long delays.
					reply, err := imapsLoginWithin("127.0.7.1", ls["imaps"], "anna@example.test", fmt.Sprintf("guess-%d-%d", i, n), 2*time.Second)
					if err == nil && reply != "" {
						answered.Add(1)
					}
					if err != nil {
						time.Sleep(50 * time.Millisecond)
					}
				}
			}(i)
		}
		time.Sleep(3 * time.Second)
		worst := loginLatency(t, "127.6.0.1", ls["imaps"], "anna@example.test", "secret-pass", 5)
		reply, _ := imapsLogin("127.8.0.1", ls["imaps"], "anna@example.test", "secret-pass")
		time.Sleep(5 * time.Second)
		close(stop)
		wg.Wait()
		window := time.Since(guessStart)
		checked := len(regexp.MustCompile(`msg="login failed" .*source=127\.0\.7\.1`).FindAllString(srv.output(), -1))
		t.Logf("guesser: 200 parallel connections from 127.0.7.1 for %v: %d answers, %d passwords checked (%.2f/s); anna from her known network: max %v; from a new network: %q",
			window.Round(time.Millisecond), answered.Load(), checked, float64(checked)/window.Seconds(), worst, reply)
		if worst > baseline+dosBound {
			t.Errorf("anna's login from her known network took %v during the guessing (baseline %v)", worst, baseline)
		}
		// Source ban after 20 failures; a few more may have been in
		// their checks when it fell.
		if checked > 24 {
			t.Errorf("%d passwords checked for one source, want at most 24", checked)
		}
		if !strings.Contains(reply, "NO [UNAVAILABLE]") {
			t.Errorf("login from a new network during the account ban: %q, want NO [UNAVAILABLE]", reply)
		}
	})

	t.Run("expensive searches", func(t *testing.T) {
		// 10 sessions of bob search the text of 16,000 messages at once
		// (accepted, and costly: every message file is read); anna is
		// served meanwhile and the server's memory stays within budget.
		searches := make([]string, 10)
		for i := range searches {
			searches[i] = `h SEARCH TEXT "needle"`
		}
		growth, worstAnna, answers := searchLoad(t, srv, ls, searches)
		t.Logf("expensive searches: 10 sessions of bob, SEARCH TEXT over %d messages; RSS +%d MiB at the peak; anna's session max %v",
			bombMessages, growth, worstAnna)
		for _, a := range answers {
			if !strings.HasPrefix(a, "h OK") {
				t.Errorf("search answered %q", a)
			}
		}
		if growth > 100 {
			t.Errorf("RSS grew by %d MiB, budget 100", growth)
		}
		if worstAnna > otherUserBound {
			t.Errorf("anna's session took %v during the searches", worstAnna)
		}
	})

	t.Run("SEARCH bombs before login", func(t *testing.T) {
		// 20 connections of one address (its whole per-address allowance)
		// send the bomb without logging in. Input before login is capped
		// at connguard.LoginInputBytesTLS, so go-imap's parser gets at
		// most 4 KiB of it and the connection is closed.
		growthMiB := sampleRSS(t, srv.cmd.Process.Pid)
		bomb := "a SEARCH " + strings.Repeat("NOT ", 10_000) + "ALL\r\n"
		var wg sync.WaitGroup
		var closed atomic.Int64
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc, err := testkit.DialFrom("127.0.11.1", ls["imaps"])
				if err != nil {
					t.Error(err)
					return
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				c := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
				r := bufio.NewReader(c)
				if _, err := r.ReadString('\n'); err != nil {
					t.Error(err)
					return
				}
				io.WriteString(c, bomb)
				if _, err := io.Copy(io.Discard, r); !isTimeout(err) {
					closed.Add(1)
				}
			}()
		}
		worst := loginLatency(t, "127.1.0.1", ls["imaps"], "anna@example.test", "secret-pass", 3)
		wg.Wait()
		growth := growthMiB()
		t.Logf("SEARCH bombs before login: 20 connections of 127.0.11.1, %d closed by the server; RSS +%d MiB at the peak; anna's login max %v",
			closed.Load(), growth, worst)
		if closed.Load() != 20 {
			t.Errorf("%d of 20 connections sending 40 KB before login closed", closed.Load())
		}
		if growth > 100 {
			t.Errorf("RSS grew by %d MiB for 20 unauthenticated connections, budget 100", growth)
		}
		if worst > baseline+dosBound {
			t.Errorf("anna's login took %v (baseline %v)", worst, baseline)
		}
	})

	t.Run("SEARCH bombs", func(t *testing.T) {
		// 20 sessions of bob send a 10,000-deep NOT chain at once. It is
		// refused; go-imap's parser (which Postern's own engine replaces,
		// issue 19) still recurses through it before Postern sees it, so
		// its memory is reported, not held to the budget here.
		bombs := make([]string, 20)
		for i := range bombs {
			bombs[i] = "h SEARCH " + strings.Repeat("NOT ", 10_000) + "ALL"
		}
		growth, worstAnna, answers := searchLoad(t, srv, ls, bombs)
		t.Logf("SEARCH bombs: 20 sessions of bob; RSS +%d MiB at the peak (go-imap's parser); anna's session max %v", growth, worstAnna)
		for _, a := range answers {
			if !strings.HasPrefix(a, "h BAD") && !strings.HasPrefix(a, "h NO [LIMIT]") {
				t.Errorf("bomb answered %q, want BAD or NO [LIMIT]", a)
			}
		}
		if worstAnna > otherUserBound {
			t.Errorf("anna's session took %v during the bombs", worstAnna)
		}
	})
}

// searchLoad runs one session of bob per command, all at once, while anna
// logs in, selects, fetches flags and searches five times; it returns the
// server's peak RSS growth in MiB, anna's longest session and the tagged
// answers.
func searchLoad(t *testing.T, srv *proc, ls mailListeners, cmds []string) (growthMiB int64, worstAnna time.Duration, answers []string) {
	t.Helper()
	pid := srv.cmd.Process.Pid
	growth := sampleRSS(t, pid)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := imapsSession(t, "127.0.9.1", ls["imaps"], "bob@example.test", "bob-pass")
			defer c.Close()
			answer := ""
			if _, err := c.cmd("x SELECT INBOX", "x "); err != nil {
				answer = "SELECT: " + err.Error()
			} else {
				line, err := c.cmd(cmd, "h ")
				answer = line + errText(err)
			}
			mu.Lock()
			answers = append(answers, answer)
			mu.Unlock()
		}()
	}
	time.Sleep(300 * time.Millisecond)
	for range 5 {
		start := time.Now()
		c := imapsSession(t, "127.1.0.1", ls["imaps"], "anna@example.test", "secret-pass")
		for _, cmd := range []string{"a SELECT INBOX", "b FETCH 1:* (FLAGS)", "c SEARCH UNSEEN", "d LOGOUT"} {
			if line, err := c.cmd(cmd, cmd[:2]); err != nil || !strings.HasPrefix(line, cmd[:2]+"OK") {
				t.Errorf("anna's %s: %q, %v", cmd, line, err)
			}
		}
		c.Close()
		worstAnna = max(worstAnna, time.Since(start))
	}
	wg.Wait()
	return growth(), worstAnna, answers
}

func errText(err error) string {
	if err != nil {
		return " (error: " + err.Error() + ")"
	}
	return ""
}

// dosServer starts "postern serve" with anna and bob (whose INBOX holds
// bombMessages messages) and a short TLS handshake deadline.
func dosServer(t *testing.T) (*proc, mailListeners) {
	t.Helper()
	dir := openTempDir(t)
	data := filepath.Join(dir, "data")
	accDir := filepath.Join(data, "accounts")
	os.MkdirAll(accDir, 0o755)
	users := testkit.PasswdLine("anna@example.test", "secret-pass") + testkit.PasswdLine("bob@example.test", "bob-pass")
	if err := os.WriteFile(filepath.Join(accDir, "users"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	fillMailbox(t, filepath.Join(data, "mail", "example.test", "bob"), bombMessages)
	os.Chmod(data, 0o755)
	top := fmt.Sprintf("hostname = \"localhost\"\ndata_dir = %q\n", data)
	timeout := fmt.Sprintf("tls_handshake_timeout = %q\n", dosHandshakeTimeout.String())
	sections := "[accounts]\ndomains = [\"example.test\"]\n[tls]\nmode = \"self-signed\"\n" +
		"[imap]\n" + timeout + "[pop3]\n" + timeout + "[smtp]\n" + timeout
	p, ls := serveOnLoopback(t, top, sections)
	p.waitFor(regexp.MustCompile(`listener=pop3s`), 30*time.Second)
	return p, ls
}

// fillMailbox writes n messages of 2 to 20 KiB into the Maildir box (new/)
// before the server starts, owned by the server's user.
func fillMailbox(t *testing.T, box string, n int) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(box, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	line := "The quick brown fox jumps over the lazy dog, again and again and.\n"
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("From: sender%d@elsewhere.test\nTo: bob@example.test\nSubject: message %d\nMessage-ID: <%d@elsewhere.test>\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n\n%s",
			i%97, i, i, strings.Repeat(line, 30+(i*7919)%280))
		name := fmt.Sprintf("1700000000.M%dP1.localhost", i)
		if err := os.WriteFile(filepath.Join(box, "new", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	giveToServer(t, filepath.Dir(filepath.Dir(box)))
}

// imapsLogin logs in over implicit TLS from src and returns the tagged
// LOGIN reply.
func imapsLogin(src, addr, user, pass string) (string, error) {
	return imapsLoginWithin(src, addr, user, pass, 30*time.Second)
}

// imapsLoginWithin is imapsLogin giving up after timeout.
func imapsLoginWithin(src, addr, user, pass string, timeout time.Duration) (string, error) {
	nc, err := testkit.DialFrom(src, addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	c := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK") {
		return "", fmt.Errorf("greeting %q: %v", line, err)
	}
	fmt.Fprintf(c, "a LOGIN %s %s\r\n", user, pass)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, "a ") {
			fmt.Fprintf(c, "z LOGOUT\r\n")
			return strings.TrimSpace(line), nil
		}
	}
}

// loginLatency logs in n times from src and returns the longest time a
// login took (connect, handshake, greeting, LOGIN); every one must
// succeed.
func loginLatency(t *testing.T, src, addr, user, pass string, n int) time.Duration {
	t.Helper()
	var worst time.Duration
	for range n {
		start := time.Now()
		reply, err := imapsLogin(src, addr, user, pass)
		if err != nil || !strings.HasPrefix(reply, "a OK") {
			t.Fatalf("login from %s: %q, %v", src, reply, err)
		}
		worst = max(worst, time.Since(start))
	}
	return worst
}

// imapConn is a logged-in IMAP session over implicit TLS.
type imapConn struct {
	net.Conn
	r *bufio.Reader
}

func imapsSession(t *testing.T, src, addr, user, pass string) *imapConn {
	t.Helper()
	nc, err := testkit.DialFrom(src, addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(2 * time.Minute))
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
	c := &imapConn{Conn: tc, r: bufio.NewReader(tc)}
	if _, err := c.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if line, err := c.cmd("l LOGIN "+user+" "+pass, "l "); err != nil || !strings.HasPrefix(line, "l OK") {
		t.Fatalf("login %s: %q %v", user, line, err)
	}
	return c
}

// cmd sends a command and returns its tagged reply (the line starting
// with tag), skipping untagged lines and literals' contents.
func (c *imapConn) cmd(cmd, tag string) (string, error) {
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		return "", err
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, tag) {
			return strings.TrimSpace(line), nil
		}
		if m := regexp.MustCompile(`\{(\d+)\}\r\n$`).FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if _, err := io.CopyN(io.Discard, c.r, int64(n)); err != nil {
				return "", err
			}
		}
	}
}

// flood opens n connections to addr, spread over srcs, and keeps them
// open; onFirstLine (if set) gets each connection's first line (empty
// when closed without one).
func flood(t *testing.T, n int, srcs []string, addr string, onFirstLine func(string)) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := testkit.DialFrom(srcs[i%len(srcs)], addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if onFirstLine != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				mu.Lock()
				onFirstLine(line)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	t.Cleanup(func() { closeAll(conns) })
	return conns
}

// stallHandshakes opens per connections from each of srcs to an
// implicit-TLS addr and sends only a TLS record header announcing a
// ClientHello that never comes.
func stallHandshakes(t *testing.T, per int, srcs []string, addr string) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for _, src := range srcs {
		for range per {
			c, err := testkit.DialFrom(src, addr)
			if err != nil {
				t.Fatalf("stalled handshake from %s: %v", src, err)
			}
			c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00})
			conns = append(conns, c)
		}
	}
	t.Cleanup(func() { closeAll(conns) })
	return conns
}

// waitClosed waits up to timeout for the server to close conns and
// returns how many it closed.
func waitClosed(conns []net.Conn, timeout time.Duration) int {
	var closed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(timeout)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			if err == nil || !isTimeout(err) {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(closed.Load())
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// greeting connects from src and returns the first line.
func greeting(t *testing.T, src, addr string) string {
	t.Helper()
	c, err := testkit.DialFrom(src, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line
}

// sendMail delivers a small message to rcpt over port 25 from src.
func sendMail(t *testing.T, src, addr, rcpt string) {
	t.Helper()
	c, err := testkit.DialFrom(src, addr)
	tc := testkit.NewConn(t, c, err)
	tc.Expect("220 ")
	tc.Send("EHLO client.elsewhere.test\r\n")
	for {
		if line := tc.Line(); strings.HasPrefix(line, "250 ") {
			break
		}
	}
	tc.Do("MAIL FROM:<someone@elsewhere.test>", "250 ")
	tc.Do("RCPT TO:<"+rcpt+">", "250 ")
	tc.Do("DATA", "354 ")
	tc.Do("Subject: during the flood\r\n\r\nstill here\r\n.", "250 ")
	tc.Send("QUIT\r\n")
}

// sampleRSS samples process pid's resident memory every 10 ms from now
// on; the function it returns stops sampling and returns the peak growth
// over the first sample, in MiB.
func sampleRSS(t *testing.T, pid int) func() int64 {
	before := rssKiB(t, pid, "VmRSS")
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rssKiB(t, pid, "VmRSS"); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-sampled
		return (max(peak.Load(), before) - before) / 1024
	}
}

// rssKiB reads a memory field (VmRSS, VmHWM) of process pid in KiB.
func rssKiB(t *testing.T, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
