// Package dnstest runs a real DNS server on loopback for tests: UDP and
// TCP on one port, answering authoritatively from a table of records given
// in zone-file syntax, NXDOMAIN for names it does not know.
package dnstest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a DNS server on 127.0.0.1.
type Server struct {
	// Addr is "127.0.0.1:port", the same port for UDP and TCP.
	Addr string
	mu   sync.Mutex
	rrs  map[string][]dns.RR // key: lower-case FQDN + "/" + type
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	d := &Server{rrs: map[string][]dns.RR{}}
	var udp net.PacketConn
	var tcp net.Listener
	for i := 0; ; i++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", u.LocalAddr().String())
		if err == nil {
			udp, tcp = u, l
			break
		}
		u.Close()
		if i > 20 {
			t.Fatal(err)
		}
	}
	d.Addr = udp.LocalAddr().String()
	h := dns.HandlerFunc(d.serve)
	su := &dns.Server{PacketConn: udp, Handler: h}
	st := &dns.Server{Listener: tcp, Handler: h}
	go su.ActivateAndServe()
	go st.ActivateAndServe()
	t.Cleanup(func() { su.Shutdown(); st.Shutdown() })
	return d
}

// Add adds records in zone-file syntax, such as "a.test. MX 10 mx.a.test.".
func (d *Server) Add(t testing.TB, lines ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("bad record %q: %v", l, err)
		}
		rr.Header().Ttl = 1
		k := strings.ToLower(rr.Header().Name) + "/" + dns.TypeToString[rr.Header().Rrtype]
		d.rrs[k] = append(d.rrs[k], rr)
	}
}

func (d *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	d.mu.Lock()
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		m.Answer = append(m.Answer, d.rrs[name+"/"+dns.TypeToString[q.Qtype]]...)
		known := false
		for k := range d.rrs {
			if strings.HasPrefix(k, name+"/") {
				known = true
			}
		}
		if !known {
			m.Rcode = dns.RcodeNameError
		}
	}
	d.mu.Unlock()
	w.WriteMsg(m)
}

// LookupTXT resolves TXT records through the server (for go-msgauth's
// dkim.VerifyOptions.LookupTXT).
func (d *Server) LookupTXT(name string) ([]string, error) {
	return d.Resolver().LookupTXT(context.Background(), name)
}

// Resolver returns a net.Resolver that asks only this server.
func (d *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, d.Addr)
	}}
}
