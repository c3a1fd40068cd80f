// Package accounts owns domains, users, aliases and logins: who exists,
// where mail for an address goes, and whether a password is right.
//
// # Files (in the accounts directory, <data>/accounts)
//
//   - users: a Dovecot passwd-file, one "user@domain:{BLF-CRYPT}$2y$...::::::" line per user
//     (extra fields such as userdb_quota_rule=*:storage=1G allowed);
//   - aliases: "alias@domain: target@domain, other@elsewhere" per line, "@domain: user@domain" is a catch-all;
//   - domains: one domain per line (besides those in the config);
//   - lock: flock'ed around every read-modify-write.
//
// Every write is write-temp/fsync/rename/fsync-dir (postern/maildir/durable)
// under the lock file; a running server reloads changed files within a second
// (Options.ReloadInterval, default 500 ms).
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
//	        // delay of known failures itself, honouring ctx (then returns ctx's error, wrapped)
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
package accounts
