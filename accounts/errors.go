package accounts

import "errors"

// Errors returned by the package. Front ends map them to protocol replies
// with errors.Is; the wrapped text carries the detail for logs and the CLI.
var (
	// ErrBadAddress: the address is not a valid, unquoted mailbox address.
	ErrBadAddress = errors.New("invalid address")
	// ErrQuotedLocalPart: the local part is a quoted string, which Postern refuses.
	ErrQuotedLocalPart = errors.New("quoted local parts are not accepted")
	// ErrNotLocal: the address's domain is not one of ours (mail to it is relayed).
	ErrNotLocal = errors.New("domain is not local")
	// ErrNoSuchUser: the domain is ours but nothing receives mail for the address.
	ErrNoSuchUser = errors.New("no such user")
	// ErrAliasLoop: an alias leads only back to itself.
	ErrAliasLoop = errors.New("alias loop")
	// ErrAuthFailed: wrong user name or password (the two are never told apart).
	ErrAuthFailed = errors.New("authentication failed")
	// ErrThrottled: too many failed logins from this source or for this account.
	ErrThrottled = errors.New("too many failed logins, try again later")
	// ErrExists: the user, alias or domain already exists.
	ErrExists = errors.New("already exists")
	// ErrNotFound: the user, alias or domain does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownDomain: the domain of a new user or alias is not a local domain.
	ErrUnknownDomain = errors.New("unknown domain")
	// ErrDomainInUse: a domain still has users or aliases.
	ErrDomainInUse = errors.New("domain still has users or aliases")
	// ErrBadPassword: the new password is empty, too short, too long or has a NUL byte.
	ErrBadPassword = errors.New("unacceptable password")
	// ErrClosed: the Directory was closed.
	ErrClosed = errors.New("accounts directory closed")
)
