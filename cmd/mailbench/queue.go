package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

func init() {
	register(mode{
		name:    "queue",
		summary: "outbound: submit messages, time until a loopback MX (run here) accepts them",
		run:     runQueue,
	})
}

// queueFlags are the settings of one outbound benchmark. The server under
// test must deliver mail for the bench domains to -sink: for Postern set
// [queue] resolver = the -dns address and mx_port = the -sink port; for
// Postfix a transport map to the sink.
type queueFlags struct {
	addr     string // submission server
	user     string
	pass     string
	starttls bool
	tls      bool
	insecure bool
	from     string
	n        int
	c        int
	size     int
	domains  int
	sink     string // where this tool listens as the remote MX
	dnsAddr  string // where this tool serves MX/A records for the bench domains; "" = none
	runs     int
	timeout  time.Duration
}

// addSharedFlags registers the flags the queue and smtp modes share with
// the same meaning and default; each mode adds addr, user, starttls, from
// and c with its own.
func (f *queueFlags) addSharedFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.pass, "pass", "", "password")
	fs.BoolVar(&f.tls, "tls", false, "implicit TLS (port 465)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the server certificate")
	fs.IntVar(&f.n, "n", 1000, "messages per run (at most 100000)")
	fs.IntVar(&f.size, "size", 4096, "message size in bytes (at most 10 MiB)")
	fs.IntVar(&f.runs, "runs", 3, "repeat and report medians (at most 50)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "bound on each run")
}

// clamp brings the shared settings into their bounds.
func (f *queueFlags) clamp() {
	f.n = min(max(f.n, 1), 100000)
	f.c = min(max(f.c, 1), 256)
	f.size = min(max(f.size, 200), 10<<20)
	f.runs = min(max(f.runs, 1), 50)
}

// queueResult is one run's JSON line. Submit covers each message's
// MAIL..end-of-DATA; Arrival is from the start of a message's submission
// to the sink's acceptance, and its per_sec is messages over the whole
// run (first submission to last arrival).
type queueResult struct {
	runLine
	Size    int     `json:"size"`
	Domains int     `json:"domains"`
	Submit  Summary `json:"submit"`
	Arrival Summary `json:"arrival"`
}

// queueMedian is the closing line: medians over the runs.
type queueMedian struct {
	mediansLine
	SubmitPerSec  float64 `json:"median_submit_per_sec"`
	ArrivalPerSec float64 `json:"median_end_to_end_per_sec"`
	ArrivalP50ms  float64 `json:"median_end_to_end_p50_ms"`
}

// benchDomain is the k-th recipient domain.
func benchDomain(k int) string { return fmt.Sprintf("d%d.mailbench.test", k) }

func runQueue(args []string, out io.Writer) error {
	var f queueFlags
	fs := newFlagSet("queue")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:587", "submission server address (host:port)")
	fs.StringVar(&f.user, "user", "", "AUTH PLAIN user; empty: no AUTH")
	fs.BoolVar(&f.starttls, "starttls", true, "STARTTLS before AUTH")
	fs.StringVar(&f.from, "from", "", "envelope sender (default: -user)")
	fs.IntVar(&f.c, "c", 8, "concurrent submission connections")
	fs.IntVar(&f.domains, "domains", 10, "recipient domains d0..dN-1.mailbench.test")
	fs.StringVar(&f.sink, "sink", "127.0.0.1:2525", "address this tool listens on as every domain's MX")
	fs.StringVar(&f.dnsAddr, "dns", "127.0.0.1:5300", "address this tool serves the domains' MX/A records on (UDP+TCP); empty: none")
	f.addSharedFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.from == "" {
		f.from = f.user
	}
	if !strings.Contains(f.from, "@") {
		return errors.New("queue: -from (or -user) must be an address")
	}
	f.clamp()
	f.domains = min(max(f.domains, 1), 1000)

	s, err := startSink(f.sink)
	if err != nil {
		return err
	}
	defer s.close()
	if f.dnsAddr != "" {
		host, _, _ := net.SplitHostPort(s.addr)
		stop, err := serveBenchDNS(f.dnsAddr, host, f.domains)
		if err != nil {
			return err
		}
		defer stop()
	}
	var sub, arr, p50 []float64
	err = eachRun(out, f.runs, func(run int) (queueResult, error) {
		r, err := queueRun(f, s, run)
		if err != nil {
			return r, err
		}
		r.Mode, r.Addr, r.Run, r.Size, r.Domains = "queue", f.addr, run, f.size, f.domains
		sub = append(sub, r.Submit.PerSec)
		arr = append(arr, r.Arrival.PerSec)
		p50 = append(p50, r.Arrival.P50ms)
		return r, nil
	})
	if err != nil {
		return err
	}
	return writeResult(out, queueMedian{mediansLine: mediansLine{Mode: "queue", Addr: f.addr, Runs: f.runs},
		SubmitPerSec: Median(sub), ArrivalPerSec: Median(arr), ArrivalP50ms: Median(p50)})
}

// queueRun submits n messages over c connections and waits until the sink
// has accepted all of them.
func queueRun(f queueFlags, s *sink, run int) (queueResult, error) {
	tag := fmt.Sprintf("r%d-%d", run, time.Now().UnixNano())
	s.expect(tag, f.n)
	deadline := time.Now().Add(f.timeout)
	start := time.Now()
	var mu sync.Mutex
	var submitLat []time.Duration
	sent := make(map[string]time.Time, f.n)
	errs, firstErr := sendEach(f, deadline, func(c *smtp.Client, i int) error {
		id := fmt.Sprintf("%s-%d", tag, i)
		rcpt := fmt.Sprintf("u%d@%s", i, benchDomain(i%f.domains))
		t0 := time.Now()
		mu.Lock()
		sent[id] = t0
		mu.Unlock()
		err := queueSend(c, f.from, rcpt, benchBody(f.from, rcpt, id, f.size))
		mu.Lock()
		if err != nil {
			delete(sent, id)
		} else {
			submitLat = append(submitLat, time.Since(t0))
		}
		mu.Unlock()
		return err
	})
	submitted := time.Since(start)
	if len(submitLat) == 0 {
		return queueResult{}, fmt.Errorf("no message submitted: %v", firstErr)
	}
	arrivals, last := s.wait(tag, len(submitLat), deadline)
	var arrLat []time.Duration
	for id, at := range arrivals {
		if t0, ok := sent[id]; ok {
			arrLat = append(arrLat, at.Sub(t0))
		}
	}
	r := queueResult{
		Submit:  Summarize(submitLat, errs, submitted),
		Arrival: Summarize(arrLat, len(submitLat)-len(arrLat), last.Sub(start)),
	}
	if len(arrLat) < len(submitLat) {
		return r, fmt.Errorf("%d of %d submitted messages did not arrive before the timeout", len(submitLat)-len(arrLat), len(submitLat))
	}
	return r, nil
}

// sink is the loopback MX: it accepts every message and notes when each
// X-Mailbench-ID arrived.
type sink struct {
	srv  *smtp.Server
	addr string

	mu       sync.Mutex
	cond     *sync.Cond
	arrivals map[string]time.Time
	last     time.Time
}

func startSink(addr string) (*sink, error) {
	s := &sink{arrivals: map[string]time.Time{}}
	s.cond = sync.NewCond(&s.mu)
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	s.srv.Domain = "sink.mailbench.localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.EnableSMTPUTF8 = true
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s.addr = l.Addr().String()
	go s.srv.Serve(l)
	return s, nil
}

func (s *sink) close() { s.srv.Close() }

func (s *sink) expect(tag string, n int) {
	s.mu.Lock()
	s.arrivals = make(map[string]time.Time, n)
	s.mu.Unlock()
}

// wait blocks until n messages of the run tagged tag arrived or the
// deadline passed, and returns their arrival times and the last one.
func (s *sink) wait(tag string, n int, deadline time.Time) (map[string]time.Time, time.Time) {
	t := time.AfterFunc(time.Until(deadline), func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer t.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.arrivals) < n && time.Now().Before(deadline) {
		s.cond.Wait()
	}
	out := make(map[string]time.Time, len(s.arrivals))
	for k, v := range s.arrivals {
		if strings.HasPrefix(k, tag+"-") {
			out[k] = v
		}
	}
	return out, s.last
}

type sinkSession struct{ s *sink }

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *sinkSession) Reset()                               {}
func (x *sinkSession) Logout() error                        { return nil }

func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	id := ""
	if i := bytes.Index(b, []byte("\nX-Mailbench-ID: ")); i >= 0 {
		rest := b[i+len("\nX-Mailbench-ID: "):]
		if j := bytes.IndexAny(rest, "\r\n"); j >= 0 {
			id = string(rest[:j])
		}
	}
	if id == "" {
		return nil
	}
	now := time.Now()
	x.s.mu.Lock()
	if _, dup := x.s.arrivals[id]; !dup {
		x.s.arrivals[id] = now
		x.s.last = now
	}
	x.s.cond.Broadcast()
	x.s.mu.Unlock()
	return nil
}

// serveBenchDNS answers MX queries for the bench domains with
// mx.mailbench.test and A queries for it with ip, on addr (UDP and TCP).
func serveBenchDNS(addr, ip string, domains int) (stop func(), err error) {
	known := map[string]bool{}
	for k := 0; k < domains; k++ {
		known[benchDomain(k)+"."] = true
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		for _, q := range req.Question {
			name := strings.ToLower(q.Name)
			switch {
			case q.Qtype == dns.TypeMX && known[name]:
				m.Answer = append(m.Answer, &dns.MX{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: 10, Mx: "mx.mailbench.test."})
			case q.Qtype == dns.TypeA && name == "mx.mailbench.test.":
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
			case known[name] || name == "mx.mailbench.test.":
			default:
				m.Rcode = dns.RcodeNameError
			}
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("dns: %w", err)
	}
	u := &dns.Server{PacketConn: pc, Handler: h}
	t := &dns.Server{Listener: l, Handler: h}
	go u.ActivateAndServe()
	go t.ActivateAndServe()
	return func() { u.Shutdown(); t.Shutdown() }, nil
}
