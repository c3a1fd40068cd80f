package accounts

import (
	"fmt"
	"strings"
)

// Alias expansion limits.
const (
	// MaxAliasDepth bounds how many aliases deep an expansion goes.
	MaxAliasDepth = 10
	// MaxAliasTargets bounds the recipients one address expands to.
	MaxAliasTargets = 1000
)

// Resolution is where mail for one address goes.
type Resolution struct {
	// Local are the local mailboxes, each at most once.
	Local []Local
	// Remote are remote addresses (normalized) to forward to, each at most once.
	Remote []string
}

// Local is one local mailbox a message is delivered to.
type Local struct {
	// User is the canonical user@domain.
	User string
	// Tag is the plus tag of the address when it named the user directly
	// (anna+shop@ gives "shop"), for filing later; "" otherwise.
	Tag string
}

// Special local parts that always resolve in every local domain.
var alwaysResolve = map[string]bool{"postmaster": true, "abuse": true}

// Resolve returns where mail for addr goes. Errors: ErrBadAddress (and
// ErrQuotedLocalPart), ErrNotLocal for a domain that is not ours,
// ErrNoSuchUser, ErrAliasLoop.
//
// Order for an address local@domain: a user of that exact name; an alias
// of that exact name; then, for local+tag, the user or alias "local"; then
// for postmaster and abuse the rule documented in docs/accounts.md; then the
// domain's catch-all "@domain". Alias targets are resolved the same way,
// local ones recursively and remote ones returned in Remote.
func (d *Directory) Resolve(addr string) (Resolution, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return Resolution{}, err
	}
	t := d.table()
	_, dom := splitAddress(a)
	if !t.domains[dom] {
		return Resolution{}, fmt.Errorf("%s: %w", a, ErrNotLocal)
	}
	r := resolver{t: t}
	r.expand(a, 0, true)
	if len(r.res.Local) == 0 && len(r.res.Remote) == 0 {
		if r.loop {
			return Resolution{}, fmt.Errorf("%s: %w", a, ErrAliasLoop)
		}
		return Resolution{}, fmt.Errorf("%s: %w", a, ErrNoSuchUser)
	}
	return r.res, nil
}

type resolver struct {
	t       *table
	res     Resolution
	visited []string // aliases on the current path (short; a slice beats a map)
	loop    bool
}

func (r *resolver) full() bool { return len(r.res.Local)+len(r.res.Remote) >= MaxAliasTargets }

func (r *resolver) addLocal(u, tag string) {
	for _, l := range r.res.Local {
		if l.User == u {
			return
		}
	}
	r.res.Local = append(r.res.Local, Local{User: u, Tag: tag})
}

func (r *resolver) addRemote(a string) {
	for _, x := range r.res.Remote {
		if x == a {
			return
		}
	}
	r.res.Remote = append(r.res.Remote, a)
}

// expand resolves the normalized local address a. top is true for the
// address asked for (whose plus tag is kept).
func (r *resolver) expand(a string, depth int, top bool) {
	if r.full() {
		return
	}
	if depth > MaxAliasDepth {
		r.loop = true
		return
	}
	if r.t.users[a] != nil {
		r.addLocal(a, "")
		return
	}
	if targets, ok := r.t.aliases[a]; ok {
		r.alias(a, targets, depth)
		return
	}
	local, dom := splitAddress(a)
	base, tag := splitTag(local)
	if tag != "" {
		b := base + "@" + dom
		if r.t.users[b] != nil {
			if top {
				r.addLocal(b, tag)
			} else {
				r.addLocal(b, "")
			}
			return
		}
		if targets, ok := r.t.aliases[b]; ok {
			r.alias(b, targets, depth)
			return
		}
	}
	if alwaysResolve[base] {
		if u := r.t.postmaster(dom); u != "" {
			r.addLocal(u, "")
			return
		}
	}
	if targets, ok := r.t.aliases["@"+dom]; ok {
		r.alias("@"+dom, targets, depth)
	}
}

func (r *resolver) alias(name string, targets []string, depth int) {
	for _, v := range r.visited {
		if v == name {
			r.loop = true
			return
		}
	}
	r.visited = append(r.visited, name)
	for _, tg := range targets {
		_, dom := splitAddress(tg)
		if r.t.domains[dom] {
			r.expand(tg, depth+1, false)
		} else if !r.full() {
			r.addRemote(tg)
		}
	}
	r.visited = r.visited[:len(r.visited)-1]
}

// postmaster returns the user postmaster@ and abuse@ of dom reach when no
// user or alias of that name exists: the first user (sorted) of dom, else
// the first user of the first local domain that has users.
func (t *table) postmaster(dom string) string {
	if us := t.byDomain[dom]; len(us) > 0 {
		return us[0]
	}
	for _, d := range t.domainOrder {
		if us := t.byDomain[d]; len(us) > 0 {
			return us[0]
		}
	}
	return ""
}

// CanSendAs reports whether the logged-in user may use addr as a sender:
// their own address, a plus variant of it, or an explicit alias (or a plus
// variant of one) that delivers to them. Catch-alls do not count.
func (d *Directory) CanSendAs(user, addr string) bool {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return false
	}
	if a == user {
		return true
	}
	t := d.table()
	local, dom := splitAddress(a)
	base, _ := splitTag(local)
	b := base + "@" + dom
	if b == user {
		return true
	}
	for _, name := range []string{a, b} {
		targets, ok := t.aliases[name]
		if !ok {
			continue
		}
		r := resolver{t: t}
		r.alias(name, targets, 0)
		for _, l := range r.res.Local {
			if l.User == user {
				return true
			}
		}
	}
	return false
}

// IsLocalDomain reports whether domain (any case, U-label or A-label) is
// one of ours.
func (d *Directory) IsLocalDomain(domain string) bool {
	n, err := NormalizeDomain(domain)
	if err != nil {
		return false
	}
	return d.table().domains[n]
}

// Quota returns the user's limits from the users file's
// userdb_quota_rule extra fields; 0 means unlimited.
func (d *Directory) Quota(user string) (bytes, messages int64) {
	u := d.table().users[strings.ToLower(user)]
	if u == nil {
		return 0, 0
	}
	return u.quotaBytes, u.quotaMessages
}

// Users returns all user names, sorted.
func (d *Directory) Users() []string {
	return append([]string(nil), d.table().userList...)
}

// Domains returns the local domains: configured ones first, then those of
// the domains file, in order.
func (d *Directory) Domains() []string {
	return append([]string(nil), d.table().domainOrder...)
}

// Aliases returns the aliases (catch-alls as "@domain") and their targets.
func (d *Directory) Aliases() map[string][]string {
	t := d.table()
	m := make(map[string][]string, len(t.aliases))
	for k, v := range t.aliases {
		m[k] = append([]string(nil), v...)
	}
	return m
}

// HasUser reports whether user exists.
func (d *Directory) HasUser(user string) bool {
	n, err := normalizeLogin(user)
	return err == nil && d.table().users[n] != nil
}
