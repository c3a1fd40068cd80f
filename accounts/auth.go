package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// maxLoggedName bounds how much of a client-supplied user name is logged.
const maxLoggedName = 320

// loggerKey is the context key of WithLogger.
type loggerKey struct{}

// WithLogger returns ctx carrying a front end's session logger (with its
// session id, remote address and protocol); Authenticate logs through it.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Authenticate checks a login. username is a full address, or a bare local
// part when there is exactly one local domain; remote is "ip:port" or "ip";
// proto names the front end for the log ("imap", "pop3", "smtp"). It logs
// through the session logger ctx carries (see WithLogger), if any.
//
// It returns the canonical user name, or ErrAuthFailed (unknown user and
// wrong password alike, after the same bcrypt work), or ErrThrottled
// (without checking the password) when the source or account has failed
// too often, or ctx's error (wrapped) if ctx ends while it waits.
//
// It waits in two ways, neither under a lock. In line: at most
// ConcurrentChecks logins of one source, and of one account, check their
// passwords at once; the others wait for a free slot, which adds no delay
// of its own. Then the throttling delay, taken from the failures known
// when the attempt's turn comes: only failures slow a source or account
// down, never logins merely in progress. A login refused by a ban set
// while it waited (in line or its delay) gets ErrThrottled unchecked.
//
// A login from a network the account has logged in from before (its known
// sources, see KnownSourcesFile) is throttled by its source and by that
// network's own account limit, not by the account-wide limit: it neither
// waits in line behind nor is refused because of guesses from elsewhere.
// A success records its network as known.
func (d *Directory) Authenticate(ctx context.Context, proto, remote, username, password string) (string, error) {
	logName := username
	if len(logName) > maxLoggedName {
		logName = logName[:maxLoggedName]
	}
	log, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	if log == nil {
		log = d.log.With("front_end", proto, "remote", remote)
	}
	t := d.table()
	name, nerr := t.loginName(username)
	acct := name
	if nerr != nil {
		acct = "?" + strings.ToLower(logName)
	}
	src := sourceKey(remote)
	network, hasNet := knownNetwork(remote)
	scope, known := acct, false
	if nerr == nil && hasNet && d.known.has(name, network, d.now()) {
		scope, known = knownScope(acct, network), true
	}
	at, err := d.thr.begin(ctx, d.now, src, scope)
	if errors.Is(err, errRefused) {
		log.Warn("login refused: too many failures", "user", logName, "source", src, "known_source", known)
		return "", ErrThrottled
	}
	if err != nil {
		return "", err
	}
	if at.delay > 0 {
		if err := d.sleep(ctx, at.delay); err != nil {
			d.thr.end(d.now(), at, abandoned, "")
			return "", fmt.Errorf("accounts: login abandoned during throttling delay: %w", err)
		}
		if d.thr.banned(d.now(), at) {
			// Refused by the guesses that failed while this one waited.
			d.thr.end(d.now(), at, abandoned, "")
			log.Warn("login refused: too many failures", "user", logName, "source", src, "known_source", known)
			return "", ErrThrottled
		}
	}
	t = d.table() // may have been reloaded while we waited
	hash := d.dummy
	u := t.users[name]
	if nerr == nil && u != nil && u.hash != "" {
		hash = u.hash
	}
	pw := password
	if len(pw) > MaxPasswordBytes {
		pw = pw[:MaxPasswordBytes]
	}
	err = bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
	if err == nil && nerr == nil && u != nil && u.hash != "" && len(password) <= MaxPasswordBytes {
		d.thr.end(d.now(), at, succeeded, "")
		attrs := []any{"user", name, "known_source", known}
		if hasNet && d.known.saw(name, network, d.now()) {
			attrs = append(attrs, "new_known_network", network.String())
		}
		log.Info("login", attrs...)
		return name, nil
	}
	d.thr.end(d.now(), at, failed, password)
	log.Warn("login failed", "user", logName, "source", src, "known_source", known, "delay", at.delay)
	return "", ErrAuthFailed
}

// loginName maps a login name to a user name: a full address normalized,
// or a bare local part completed with the only local domain.
func (t *table) loginName(s string) (string, error) {
	if !strings.Contains(s, "@") {
		if len(t.domainOrder) == 1 {
			s = s + "@" + t.domainOrder[0]
		} else if t.users[strings.ToLower(s)] != nil {
			return strings.ToLower(s), nil
		}
	}
	return normalizeLogin(s)
}
