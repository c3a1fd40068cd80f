// Package accounts owns domains, users, aliases and logins: who exists,
// where mail for an address goes, and whether a password is right.
//
// # Files (in the accounts directory, <data>/accounts)
//
//   - users: a Dovecot passwd-file, one "user@domain:{BLF-CRYPT}$2y$...:::::" line per user
//     (extra fields such as userdb_quota_rule allowed);
//   - aliases: "alias@domain: target@domain, other@elsewhere" per line, "@domain: user@domain" is a catch-all;
//   - domains: one domain per line (besides those in the config).
//
// Every write is write-temp/fsync/rename/fsync-dir (postern/maildir/durable)
// under a lock file; a running server reloads changed files within a second.
//
// # API used by the front ends (the contract)
//
//	Open(dir string, opts Options) (*Directory, error)
//	(*Directory).Close() error
//	(*Directory).Resolve(addr string) (Resolution, error)  // ErrNotLocal (not our domain: relay), ErrNoSuchUser
//	        // Resolution{Local []Local{User, Tag}, Remote []string}
//	(*Directory).Authenticate(ctx, proto, remote, username, password string) (user string, err error)
//	        // ErrAuthFailed (same answer and time for unknown user and wrong password),
//	        // ErrThrottled; waits the throttling delay itself, honouring ctx
//	(*Directory).CanSendAs(user, addr string) bool          // own address, alias targeting user, plus-variant
//	(*Directory).IsLocalDomain(domain string) bool
//	(*Directory).Quota(user string) (bytes, messages int64) // 0 = unlimited
//	NormalizeAddress(s string) (string, error)
package accounts
