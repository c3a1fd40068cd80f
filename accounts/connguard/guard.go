package connguard

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Reason names the limit a connection was refused by; it is the "limit"
// attribute of the log line.
type Reason string

// The limits a connection can be refused by.
const (
	PerIP      Reason = "per_ip"
	PerNetwork Reason = "per_network"
	Total      Reason = "total"
)

// RefusalLogInterval is the least time between two refusal log lines for
// one source and limit.
const RefusalLogInterval = 10 * time.Second

// maxLogKeys bounds the refusal-log memory; past it the table starts over.
const maxLogKeys = 10_000

// Options configure a Guard.
type Options struct {
	// Proto names the front end in log lines ("smtp", "imap", "pop3").
	Proto string
	// Limits are the limits, defaults already applied.
	Limits Limits
	// NoLogin is set for listeners where nobody logs in (port 25): the
	// per-IP and per-network limits then hold for the whole session and
	// the pre-login deadlines do not apply.
	NoLogin bool
	// Logger receives the refusal lines; nil means slog.Default().
	Logger *slog.Logger
}

// Guard counts the connections of one front end (all its listeners
// together) and refuses those over a limit. Its methods are safe for
// concurrent use.
type Guard struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	total  int
	perIP  map[netip.Prefix]int
	perNet map[netip.Prefix]int
	logged map[logKey]*logState

	refused  [3]atomic.Uint64
	tlsFail  atomic.Uint64
	overflow atomic.Uint64
}

type logKey struct {
	src    netip.Prefix
	reason Reason
}

type logState struct {
	last       time.Time
	suppressed int
}

// New returns a Guard.
func New(opts Options) *Guard {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Guard{
		opts:   opts,
		log:    log.With("proto", opts.Proto),
		perIP:  map[netip.Prefix]int{},
		perNet: map[netip.Prefix]int{},
		logged: map[logKey]*logState{},
	}
}

// Limits returns the Guard's limits.
func (g *Guard) Limits() Limits { return g.opts.Limits }

// Stats are a Guard's counters since it was made.
type Stats struct {
	// Open is the number of connections held now.
	Open int
	// Refused counts refusals by limit.
	Refused map[Reason]uint64
	// TLSFailed counts implicit-TLS handshakes that failed or timed out.
	TLSFailed uint64
	// InputClosed counts connections closed for sending more than
	// LoginInputBytes before login.
	InputClosed uint64
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	g.mu.Lock()
	open := g.total
	g.mu.Unlock()
	return Stats{
		Open: open,
		Refused: map[Reason]uint64{
			PerIP: g.refused[0].Load(), PerNetwork: g.refused[1].Load(), Total: g.refused[2].Load(),
		},
		TLSFailed:   g.tlsFail.Load(),
		InputClosed: g.overflow.Load(),
	}
}

// Keys returns the source key (IPv4 address, IPv6 /64) and network key
// (IPv4 /24, IPv6 /48) of addr; ok is false when addr is not an IP
// address (such connections count only toward MaxConnections).
func Keys(addr net.Addr) (src, network netip.Prefix, ok bool) {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, ok = netip.AddrFromSlice(a.IP)
	default:
		if addr == nil {
			return src, network, false
		}
		ap, err := netip.ParseAddrPort(addr.String())
		ip, ok = ap.Addr(), err == nil
	}
	if !ok {
		return src, network, false
	}
	ip = ip.WithZone("").Unmap()
	srcBits, netBits := 32, 24
	if ip.Is6() {
		srcBits, netBits = 64, 48
	}
	src, _ = ip.Prefix(srcBits)
	network, _ = ip.Prefix(netBits)
	return src, network, true
}

// admit counts a new connection from remote, or returns the limit it is
// over.
func (g *Guard) admit(remote net.Addr) (src, network netip.Prefix, keyed bool, refused Reason) {
	src, network, keyed = Keys(remote)
	lim := g.opts.Limits
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.total >= lim.MaxConnections:
		refused = Total
	case keyed && g.perIP[src] >= lim.MaxConnectionsPerIP:
		refused = PerIP
	case keyed && g.perNet[network] >= lim.MaxConnectionsPerNetwork:
		refused = PerNetwork
	}
	if refused != "" {
		return src, network, keyed, refused
	}
	g.total++
	if keyed {
		g.perIP[src]++
		g.perNet[network]++
	}
	return src, network, keyed, ""
}

// leavePreLogin takes a connection out of the per-IP and per-network
// counts (it logged in, or closed before).
func (g *Guard) leavePreLogin(src, network netip.Prefix) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perIP[src]--; g.perIP[src] <= 0 {
		delete(g.perIP, src)
	}
	if g.perNet[network]--; g.perNet[network] <= 0 {
		delete(g.perNet, network)
	}
}

// leave takes a closed connection out of the total.
func (g *Guard) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
}

// noteRefusal counts a refusal and logs it, at most once per source and
// limit every RefusalLogInterval.
func (g *Guard) noteRefusal(remote net.Addr, src, network netip.Prefix, reason Reason) {
	switch reason {
	case PerIP:
		g.refused[0].Add(1)
	case PerNetwork:
		g.refused[1].Add(1)
	case Total:
		g.refused[2].Add(1)
	}
	now := time.Now()
	k := logKey{src: src, reason: reason}
	g.mu.Lock()
	st := g.logged[k]
	if st == nil {
		if len(g.logged) >= maxLogKeys {
			clear(g.logged)
		}
		st = &logState{}
		g.logged[k] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < RefusalLogInterval {
		st.suppressed++
		g.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	lim := g.opts.Limits
	g.mu.Unlock()
	max := lim.MaxConnections
	switch reason {
	case PerIP:
		max = lim.MaxConnectionsPerIP
	case PerNetwork:
		max = lim.MaxConnectionsPerNetwork
	}
	g.log.Warn("connection refused", "limit", string(reason), "max", max, "source", addrOf(remote),
		"network", network.String(), "suppressed", suppressed)
}

// noteOverInput counts and logs a connection closed for too much input
// before login.
func (g *Guard) noteOverInput(c *Conn) {
	g.overflow.Add(1)
	g.log.Warn("connection closed: too much input before login", "limit", "login_input", "max_plain", LoginInputBytes, "max_tls", LoginInputBytesTLS,
		"source", addrOf(c.RemoteAddr()), "network", c.network.String())
}

// addrOf is the host part of remote.
func addrOf(remote net.Addr) string {
	if remote == nil {
		return ""
	}
	s := remote.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
