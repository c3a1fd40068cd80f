package accounts

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"postern/maildir/durable"
)

// Known login networks: the networks each account has logged in from
// successfully. A login from one of them is throttled by its own source
// and network only, never by the account-wide limit a guesser elsewhere
// runs into (see the package doc, "Throttling").
const (
	// KnownSourcesFile, in the accounts directory, keeps the known
	// networks across restarts (format in the package doc).
	KnownSourcesFile = "known-sources"
	// MaxKnownSources bounds the networks remembered per account; adding
	// one more forgets the one seen least recently.
	MaxKnownSources = 32
	// KnownSourceExpiry: a network not seen for this long is forgotten.
	KnownSourceExpiry = 90 * 24 * time.Hour
	// KnownIPv4Bits and KnownIPv6Bits are the network a successful login
	// makes known: the IPv4 /24 and the IPv6 /48 around its address. Home
	// connections are renumbered by DHCP or prefix delegation within the
	// provider's block, which usually keeps the /24 (IPv4) and stays
	// inside the /48 a site is delegated from (IPv6), so the owner's next
	// address is still recognised; a guesser elsewhere is not in them.
	KnownIPv4Bits = 24
	KnownIPv6Bits = 48

	knownSourcesMode os.FileMode = 0o600 // says where and when a user logs in
	// knownRefreshWrite: last-seen times are refreshed in memory at each
	// login and reach the file with the next change of the set, at Close,
	// or at the first login an hour or more after the last write.
	knownRefreshWrite = time.Hour
)

// knownNet is one remembered network of an account.
type knownNet struct {
	prefix netip.Prefix
	seen   time.Time // last successful login from it
}

// knownSources is the set of networks each account has logged in from,
// loaded from KnownSourcesFile at Open and written back (durably, whole)
// when it changes.
type knownSources struct {
	path string
	log  *slog.Logger

	writeMu sync.Mutex // serialises writes; taken before mu

	mu    sync.Mutex
	users map[string][]knownNet // canonical user name → networks
	gen   uint64                // counts changes and refreshes
	saved uint64                // gen when last written (or loaded)
	wrote time.Time             // when last written (or loaded)
}

// knownNetwork returns the network remote ("ip:port" or "ip") belongs to
// for the known-sources list, or false when remote is not an IP address.
func knownNetwork(remote string) (netip.Prefix, bool) {
	ip, ok := remoteAddr(remote)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := KnownIPv6Bits
	if ip.Is4() {
		bits = KnownIPv4Bits
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// knownScope is the throttling key of logins to acct from its known
// network p: such logins have their own account-wide limit, apart from
// the one of unknown sources.
func knownScope(acct string, p netip.Prefix) string {
	return acct + " from " + p.String()
}

// loadKnownSources reads path. A missing file is an empty set; a bad line
// is skipped with a warning, an unreadable file logged as an error: the
// set starts empty then (its owners' networks are learnt again at their
// next logins). Entries expired at now are dropped.
func loadKnownSources(path string, log *slog.Logger, now time.Time) *knownSources {
	k := &knownSources{path: path, log: log, users: map[string][]knownNet{}, wrote: now}
	lines, err := readLines(path)
	if err != nil {
		log.Error("accounts: cannot read the known login networks, starting with none", "file", path, "err", err)
		return k
	}
	for i, l := range lines {
		if isComment(l) {
			continue
		}
		user, kn, err := parseKnownLine(l)
		if err != nil {
			log.Warn("accounts: skipping a bad line of the known login networks", "file", path, "line", i+1, "err", err)
			continue
		}
		if kn.seen.After(now) {
			kn.seen = now // a clock set back: never let an entry outlive its expiry
		}
		if !kn.fresh(now) {
			continue
		}
		nets := k.users[user]
		if j := slices.IndexFunc(nets, func(n knownNet) bool { return n.prefix == kn.prefix }); j >= 0 {
			nets[j].seen = later(nets[j].seen, kn.seen)
			continue
		}
		k.users[user] = append(nets, kn)
	}
	for user, nets := range k.users {
		for len(nets) > MaxKnownSources {
			nets = dropLeastRecent(nets)
		}
		k.users[user] = nets
	}
	return k
}

// parseKnownLine parses "user<TAB>network<TAB>unix-seconds".
func parseKnownLine(l string) (string, knownNet, error) {
	f := strings.Split(l, "\t")
	if len(f) != 3 {
		return "", knownNet{}, fmt.Errorf("%d tab-separated fields, want 3", len(f))
	}
	user, err := normalizeLogin(f[0])
	if err != nil {
		return "", knownNet{}, fmt.Errorf("user: %w", err)
	}
	p, err := netip.ParsePrefix(f[1])
	if err != nil {
		return "", knownNet{}, fmt.Errorf("network: %w", err)
	}
	want := KnownIPv6Bits
	if p.Addr().Is4() {
		want = KnownIPv4Bits
	}
	if p.Bits() != want || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
		return "", knownNet{}, fmt.Errorf("network %s is not an IPv4 /%d or IPv6 /%d", f[1], KnownIPv4Bits, KnownIPv6Bits)
	}
	secs, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || secs <= 0 {
		return "", knownNet{}, fmt.Errorf("last seen %q is not a positive count of seconds", f[2])
	}
	return user, knownNet{prefix: p, seen: time.Unix(secs, 0)}, nil
}

// fresh reports whether n is still known at now.
func (n knownNet) fresh(now time.Time) bool { return now.Sub(n.seen) < KnownSourceExpiry }

// has reports whether user has logged in from network p within
// KnownSourceExpiry of now.
func (k *knownSources) has(user string, p netip.Prefix, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, n := range k.users[user] {
		if n.prefix == p {
			return n.fresh(now)
		}
	}
	return false
}

// saw records a successful login of user from network p at now. It
// reports whether p is new for user; the file is written when the set
// changed (p added, networks expired or dropped for room) or when the
// last write is an hour old, else the refreshed time stays in memory.
// A failed write is logged and retried with the next change (or an hour
// later); the login is not refused for it.
func (k *knownSources) saw(user string, p netip.Prefix, now time.Time) (added bool) {
	k.mu.Lock()
	nets := slices.DeleteFunc(k.users[user], func(n knownNet) bool { return !n.fresh(now) })
	changed := len(nets) != len(k.users[user])
	if j := slices.IndexFunc(nets, func(n knownNet) bool { return n.prefix == p }); j >= 0 {
		if now.After(nets[j].seen) {
			nets[j].seen = now
			k.gen++
		}
	} else {
		if len(nets) >= MaxKnownSources {
			nets = dropLeastRecent(nets)
		}
		nets = append(nets, knownNet{prefix: p, seen: now})
		changed, added = true, true
	}
	k.users[user] = nets
	if changed {
		k.gen++
	}
	due := changed || (k.gen != k.saved && now.Sub(k.wrote) >= knownRefreshWrite)
	k.mu.Unlock()
	if due {
		if err := k.flush(now); err != nil {
			k.log.Error("accounts: cannot write the known login networks", "err", err)
		}
	}
	return added
}

// flush writes the set if it changed since the last write.
func (k *knownSources) flush(now time.Time) error {
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	k.mu.Lock()
	if k.gen == k.saved {
		k.mu.Unlock()
		return nil
	}
	gen, data := k.gen, k.encode(now)
	k.wrote = now // a failed write is retried an hour later, or at the next change
	k.mu.Unlock()
	if err := durable.WriteFile(k.path, data, knownSourcesMode); err != nil {
		return fmt.Errorf("accounts: known login networks: %w", err)
	}
	k.mu.Lock()
	k.saved = gen
	k.mu.Unlock()
	return nil
}

// encode formats the unexpired entries, by user and network. k.mu is held.
func (k *knownSources) encode(now time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("# Networks each user has logged in from: user, network, last seen (Unix seconds).\n")
	b.WriteString("# Written by the running server; edit only while it is stopped.\n")
	for _, user := range slices.Sorted(maps.Keys(k.users)) {
		nets := slices.Clone(k.users[user])
		slices.SortFunc(nets, func(a, b knownNet) int { return a.prefix.Compare(b.prefix) })
		for _, n := range nets {
			if n.fresh(now) {
				fmt.Fprintf(&b, "%s\t%s\t%d\n", user, n.prefix, n.seen.Unix())
			}
		}
	}
	return b.Bytes()
}

// dropLeastRecent removes the network seen least recently.
func dropLeastRecent(nets []knownNet) []knownNet {
	i := 0
	for j, n := range nets {
		if n.seen.Before(nets[i].seen) {
			i = j
		}
	}
	return slices.Delete(nets, i, i+1)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
