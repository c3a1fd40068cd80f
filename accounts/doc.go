// Package accounts owns domains, users, aliases and logins: who exists,
// where mail for an address goes, and whether a password is right.
//
// # Files (in the accounts directory, <data>/accounts)
//
//   - users: a Dovecot passwd-file, one "user@domain:{BLF-CRYPT}$2y$...::::::" line per user
//     (extra fields such as userdb_quota_rule=*:storage=1G allowed);
//   - aliases: "alias@domain: target@domain, other@elsewhere" per line, "@domain: user@domain" is a catch-all;
//   - domains: one domain per line (besides those in the config);
//   - lock: flock'ed around every read-modify-write;
//   - known-sources (KnownSourcesFile, mode 0600): the networks each user
//     has logged in from, one "user<TAB>network<TAB>last-seen" line each,
//     e.g. "anna@example.org\t192.0.2.0/24\t1772366400" (network: the IPv4
//     /24 or IPv6 /48 of a successful login; last seen in Unix seconds);
//     lines starting with '#' are comments. Owned by the running server:
//     read at Open, written by it alone (not under the lock file).
//
// Every write is write-temp/fsync/rename/fsync-dir (postern/maildir/durable),
// under the lock file for the first three; a running server reloads changed
// files within a second (Options.ReloadInterval, default 500 ms).
//
// # API used by the front ends (the contract)
//
//	Open(dir string, opts Options) (*Directory, error)
//	        // Options{Domains, Logger, Now, Sleep, ReloadInterval, Throttle ThrottleConfig, BcryptCost}
//	(*Directory).Close() error
//	(*Directory).Reload() error                             // e.g. on SIGHUP; also automatic
//	(*Directory).Resolve(addr string) (Resolution, error)  // ErrNotLocal (not our domain: relay), ErrNoSuchUser,
//	        // ErrBadAddress, ErrAliasLoop; Resolution{Local []Local{User, Tag}, Remote []string}
//	(*Directory).Authenticate(ctx, proto, remote, username, password string) (user string, err error)
//	        // ErrAuthFailed (same answer and time for unknown user and wrong password),
//	        // ErrThrottled; waits its turn (ConcurrentChecks per source and account) and the throttling
//	        // delay of known failures itself, honouring ctx (then returns ctx's error, wrapped);
//	        // a login from a known network of the account is exempt from the account-wide limit
//	(*Directory).CanSendAs(user, addr string) bool          // own address, alias targeting user, plus-variant
//	(*Directory).IsLocalDomain(domain string) bool
//	(*Directory).Quota(user string) (bytes, messages int64) // 0 = unlimited
//	(*Directory).Users() []string                           // sorted
//	(*Directory).Domains() []string; Aliases() map[string][]string; HasUser(user) bool
//	NormalizeAddress(s string) (string, error); NormalizeDomain(d string) (string, error)
//
// Write operations (used by the postern user/alias/domain commands):
//
//	AddUser(addr, pw), DeleteUser(addr), SetPassword(addr, pw), SetQuota(addr, bytes, messages),
//	AddAlias(alias, targets), DeleteAlias(alias, targets...), AddDomain(d), DeleteDomain(d)
//	CheckNewPassword(user, pw) error; HashPassword(pw, cost) (string, error)
//
// # Implementation notes
//
// The three files are parsed into an immutable table held in an atomic
// pointer: lookups take no lock, and bcrypt runs with no lock held. A
// reload (timer-driven stat of the files, or after a write) builds a new
// table and swaps it in; sessions already logged in are unaffected.
// Throttling state lives in memory per Directory under its own mutex,
// which is never held while sleeping, hashing or waiting in line for a
// check slot (a waiter sleeps on a channel closed when a slot frees or
// the line moves; slots go to the waiters in order of arrival).
//
// # Throttling
//
// Failures are counted per source (IPv4 address, IPv6 /64) and per
// account; see ThrottleConfig for delays and bans. A ban refuses the logins
// still waiting (in line or their delay) too, without a password check.
// The account-wide limit, there against guessing spread over many
// sources, must not lock the owner out, so a login from a known network
// of the account (the IPv4 /24 or IPv6 /48 of an earlier successful login,
// see KnownSourcesFile) is counted under the key "account from network"
// instead of the account's: it waits in line only with logins of its own
// source and network, is not refused by the account's ban, and its
// network has a limit of the same size of its own. A success resets its
// source's and its own key's counters, not the account's, so the owner's
// logins do not lift a ban a guesser earned.
//
// Known networks live in memory (a mutex apart from the throttle's) and
// in KnownSourcesFile: at most MaxKnownSources per user (the one seen
// least recently gives way), forgotten after KnownSourceExpiry without a
// login. The file is rewritten whole, durably, only when the set changes
// (a network added, expired or dropped); last-seen times are refreshed in
// memory at each login and written with the next change, by the first
// login an hour after the last write, or at Close. Loading skips a bad line
// with a warning; an unreadable file is logged and the set starts empty.
package accounts
