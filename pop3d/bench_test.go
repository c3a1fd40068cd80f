package pop3d

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/accounts"
	"postern/accounts/testkit"
	"postern/maildir/dovecottest"
)

// benchMessage is a 100 KB message with short lines, some starting with ".".
var benchMessage = func() []byte {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: bench\r\n\r\n")
	for i := 0; b.Len() < 100<<10; i++ {
		if i%10 == 0 {
			b.WriteString(".")
		}
		b.WriteString("The quick brown fox jumps over the lazy dog, line of the benchmark body.\r\n")
	}
	return []byte(b.String())
}()

// BenchmarkDotWriter measures dot-stuffing a message into a buffered
// writer; BenchmarkPlainCopy is the reference without stuffing.
func BenchmarkDotWriter(b *testing.B) {
	w := bufio.NewWriterSize(io.Discard, writeBufferSize)
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		d := &dotWriter{w: w, bol: true}
		d.Write(benchMessage)
		d.Close()
	}
}

func BenchmarkPlainCopy(b *testing.B) {
	w := bufio.NewWriterSize(io.Discard, writeBufferSize)
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		w.Write(benchMessage)
		w.WriteString(".\r\n")
	}
}

// BenchmarkSession measures, over loopback TLS against the real store,
// a whole session on a 1,000-message INBOX: login, STAT, UIDL, QUIT
// ("login_stat_uidl") and a pipelined RETR of every message ("retr_all").
func BenchmarkSession(b *testing.B) {
	const count = 1000
	e := newEnv(b, Config{})
	msgs := make([]string, count)
	for i := range msgs {
		msgs[i] = testMessage(i) + strings.Repeat("body line of the message\r\n", 100)
	}
	e.deliver(testkit.AnnaUser, msgs...)
	b.Run("login_stat_uidl", func(b *testing.B) {
		for b.Loop() {
			c := e.login(testkit.AnnaUser, testkit.AnnaPass)
			c.Do("STAT", fmt.Sprintf("+OK %d ", count))
			c.multi("UIDL")
			c.Do("QUIT", "+OK")
			c.closed() // the maildrop lock is released before the socket closes
			c.NC.Close()
		}
	})
	b.Run("retr_all", func(b *testing.B) {
		var size int64
		for _, m := range msgs {
			size += int64(len(m))
		}
		b.SetBytes(size)
		for b.Loop() {
			c := e.login(testkit.AnnaUser, testkit.AnnaPass)
			c.retrPipelined(count)
			c.Do("QUIT", "+OK")
			c.closed() // the maildrop lock is released before the socket closes
			c.NC.Close()
		}
	})
}

// benchInboxMessages is the INBOX size of BenchmarkVsDovecot (the issue's
// 10,000); POSTERN_POP3_BENCH_MESSAGES overrides it for quick runs.
func benchInboxMessages() int {
	if n, err := strconv.Atoi(os.Getenv("POSTERN_POP3_BENCH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// writeMaildirFiles fills the cur/ of user's Maildir under root with n
// messages of about 4 KiB, named with S= and W= as Dovecot names them.
// With crlf the files have CRLF line ends, as Postern stores mail; else
// LF, as Dovecot does (a mailbox migrated from it).
func writeMaildirFiles(tb testing.TB, root, user string, n int, crlf bool) {
	tb.Helper()
	local, domain, _ := strings.Cut(user, "@")
	dir := filepath.Join(root, domain, local)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	body := strings.Repeat("A line of the benchmark message body, some sixty-odd octets.\n", 64)
	now := time.Now().Unix() - int64(n)
	for i := range n {
		msg := fmt.Sprintf("From: sender@example.net\nTo: %s\nSubject: benchmark %d\nMessage-ID: <b%d@example.net>\n\n.%s", user, i, i, body)
		vsize := len(msg) + strings.Count(msg, "\n")
		if crlf {
			msg = strings.ReplaceAll(msg, "\n", "\r\n")
		}
		name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d:2,", now+int64(i), i, len(msg), vsize)
		if err := os.WriteFile(filepath.Join(dir, "cur", name), []byte(msg), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// benchSession dials addr, upgrades with STLS and logs in, for servers
// that may present a certificate of their own (Dovecot's).
func benchSession(b *testing.B, addr, user, pass string) *popClient {
	b.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	c := &popClient{&testkit.Conn{T: b, NC: nc, R: bufio.NewReaderSize(nc, 64<<10)}}
	c.Expect("+OK")
	c.stls(&tls.Config{InsecureSkipVerify: true})
	c.Do("USER "+user, "+OK")
	c.Do("PASS "+pass, "+OK")
	return c
}

// drain reads a multi-line body up to the "." line and returns its size.
func (c *popClient) drain() int64 {
	c.T.Helper()
	var n int64
	for {
		l, err := c.R.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			c.T.Fatalf("reading body: %v", err)
		}
		if err == nil && string(l) == ".\r\n" {
			return n
		}
		n += int64(len(l))
	}
}

// loginStatUIDL is one "check for new mail" session: login, STAT, UIDL,
// QUIT; it returns how long it took.
func loginStatUIDL(b *testing.B, addr, user, pass string, count int) time.Duration {
	start := time.Now()
	c := benchSession(b, addr, user, pass)
	c.Do("STAT", fmt.Sprintf("+OK %d ", count))
	c.Do("UIDL", "+OK")
	c.drain()
	c.Do("QUIT", "+OK")
	d := time.Since(start)
	c.NC.Close()
	return d
}

// retrPipelined retrieves messages 1..count, 16 RETRs in flight, and
// returns the octets of the bodies received.
func (c *popClient) retrPipelined(count int) int64 {
	c.T.Helper()
	var total int64
	for i := 1; i <= count; i += 16 {
		var cmds strings.Builder
		for j := i; j < i+16 && j <= count; j++ {
			fmt.Fprintf(&cmds, "RETR %d\r\n", j)
		}
		c.Send(cmds.String())
		for j := i; j < i+16 && j <= count; j++ {
			c.Expect("+OK")
			total += c.drain()
		}
	}
	return total
}

// retrAll retrieves every message with pipelined RETRs and returns the
// octets received and the time taken.
func retrAll(b *testing.B, addr, user, pass string, count int) (int64, time.Duration) {
	start := time.Now()
	c := benchSession(b, addr, user, pass)
	total := c.retrPipelined(count)
	c.Do("QUIT", "+OK")
	d := time.Since(start)
	c.NC.Close()
	return total, d
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkVsDovecot serves one Maildir INBOX of benchInboxMessages()
// messages with Postern and with a real Dovecot (same bcrypt passwd-file,
// both over STLS on loopback) and measures, alternating the two servers
// in every iteration, a login+STAT+UIDL session and a pipelined RETR of
// every message. It reports the medians and the ratios Postern/Dovecot
// (issue 6 targets: login_ratio <= 1.2, retr_mbps_ratio >= 1), for files
// stored with LF (migrated from Dovecot: served through maildir's CRLF
// conversion) and with CRLF (as Postern stores mail).
func BenchmarkVsDovecot(b *testing.B) {
	for _, layout := range []struct {
		name string
		crlf bool
	}{{"lf_files", false}, {"crlf_files", true}} {
		b.Run(layout.name, func(b *testing.B) { benchVsDovecot(b, layout.crlf) })
	}
}

func benchVsDovecot(b *testing.B, crlf bool) {
	n := benchInboxMessages()
	root := filepath.Join(dovecotReadableDir(b), "mail")
	writeMaildirFiles(b, root, testkit.AnnaUser, n, crlf)
	e := newEnvAt(b, Config{}, root)
	if got := len(e.uids(testkit.AnnaUser)); got != n { // assigns the UIDs
		b.Fatalf("store sees %d messages, want %d", got, n)
	}
	passwd := filepath.Join(filepath.Dir(root), "passwd")
	users, err := os.ReadFile(filepath.Join(e.accts.Dir(), accounts.UsersFile))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(passwd, users, 0o644); err != nil {
		b.Fatal(err)
	}
	d := dovecottest.Start(b, dovecottest.Options{Root: root, PasswdFile: passwd, TLS: true})
	servers := []struct{ name, addr string }{{"postern", e.addr}, {"dovecot", d.POP3Addr}}
	for _, s := range servers { // warm up: indexes, \Seen on every message
		retrAll(b, s.addr, testkit.AnnaUser, testkit.AnnaPass, n)
	}
	b.Run("login_stat_uidl", func(b *testing.B) {
		times := map[string][]time.Duration{}
		for b.Loop() {
			for _, s := range servers {
				times[s.name] = append(times[s.name], loginStatUIDL(b, s.addr, testkit.AnnaUser, testkit.AnnaPass, n))
			}
		}
		p, dv := medianDuration(times["postern"]), medianDuration(times["dovecot"])
		b.ReportMetric(float64(p.Microseconds())/1000, "postern_ms")
		b.ReportMetric(float64(dv.Microseconds())/1000, "dovecot_ms")
		b.ReportMetric(p.Seconds()/dv.Seconds(), "login_ratio")
	})
	b.Run("retr_all", func(b *testing.B) {
		mbps := map[string][]float64{}
		for b.Loop() {
			for _, s := range servers {
				octets, t := retrAll(b, s.addr, testkit.AnnaUser, testkit.AnnaPass, n)
				mbps[s.name] = append(mbps[s.name], float64(octets)/1e6/t.Seconds())
			}
		}
		p, dv := medianFloat(mbps["postern"]), medianFloat(mbps["dovecot"])
		b.ReportMetric(p, "postern_MB/s")
		b.ReportMetric(dv, "dovecot_MB/s")
		b.ReportMetric(p/dv, "retr_mbps_ratio")
	})
}

func medianFloat(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
}
