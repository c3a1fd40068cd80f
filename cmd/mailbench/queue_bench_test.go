package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postern/accounts/testkit"
	"postern/smtpd/queue"
	"postern/smtpd/queue/postfixtest"
)

// BenchmarkQueueMode runs the queue mode (1,000 messages of 4 KiB to 10
// domains, 8 submitters, plaintext on loopback) against two relays in one
// go test run: Debian's Postfix, and Postern's outbound queue behind a
// minimal go-smtp submission listener that hands each message to
// queue.Enqueue (what the submission server does after AUTH). msgs/s is
// end-to-end: first submission to the sink's last acceptance.
func BenchmarkQueueMode(b *testing.B) {
	for _, target := range []string{"postfix", "postern-queue"} {
		b.Run(target, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sinkAddr := testkit.FreeAddr(b)
				dnsAddr := freeUDPTCP(b)
				var addr string
				if target == "postfix" {
					addr = postfixtest.Start(b, postfixtest.Options{RelayTo: sinkAddr}).Addr
				} else {
					addr = startQueueRelay(b, dnsAddr, sinkAddr)
				}
				var out bytes.Buffer
				err := runQueue([]string{"-addr", addr, "-starttls=false", "-from", "bench@sender.test", "-n", "1000", "-c", "8",
					"-size", "4096", "-domains", "10", "-sink", sinkAddr, "-dns", dnsAddr, "-runs", "1", "-timeout", "120s"}, &out)
				if err != nil {
					b.Fatalf("%v\n%s", err, out.String())
				}
				var r queueResult
				json.Unmarshal([]byte(strings.SplitN(out.String(), "\n", 2)[0]), &r)
				b.ReportMetric(r.Arrival.PerSec, "msgs/s")
				b.ReportMetric(r.Submit.PerSec, "submit/s")
				b.ReportMetric(r.Arrival.P50ms, "p50-ms")
			}
		})
	}
}

// startQueueRelay runs an outbound queue (resolver dnsAddr, MX port of
// sinkAddr) behind a plaintext go-smtp listener and returns its address.
func startQueueRelay(b *testing.B, dnsAddr, sinkAddr string) string {
	_, port, _ := net.SplitHostPort(sinkAddr)
	cfg := queue.DefaultConfig()
	cfg.Hostname = "out.sender.test"
	cfg.Resolver = dnsAddr
	cfg.MXPort, _ = strconv.Atoi(port)
	q, err := queue.Open(b.TempDir(), cfg, queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &relaySession{q: q}, nil }))
	srv.Domain = "relay.localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	l := testkit.Listen(b)
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close(); cancel(); <-done })
	return l.Addr().String()
}

type relaySession struct {
	q     *queue.Queue
	from  string
	rcpts []string
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	_, err := s.q.Enqueue(context.Background(), s.from, s.rcpts, r)
	return err
}
func (s *relaySession) Reset()        { s.from, s.rcpts = "", nil }
func (s *relaySession) Logout() error { return nil }

// freeUDPTCP returns an address whose port is free for both UDP and TCP.
func freeUDPTCP(b *testing.B) string {
	for i := 0; i < 50; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		pc.Close()
		if err == nil {
			l.Close()
			return addr
		}
	}
	b.Fatal("no port free for UDP and TCP")
	return ""
}
