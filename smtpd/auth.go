package smtpd

import (
	"context"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/accounts"
	"postern/accounts/connguard"
)

// authTimeout bounds one login, including the throttling delay accounts
// imposes after failures.
const authTimeout = time.Minute

// submissionSession is the session of a submission connection: the same
// verbs, plus AUTH. go-smtp advertises and accepts AUTH only under TLS
// (AllowInsecureAuth stays false).
type submissionSession struct {
	*session
}

// AuthMechanisms lists the SASL mechanisms offered (RFC 4954).
func (s *submissionSession) AuthMechanisms() []string {
	return []string{sasl.Plain, sasl.Login}
}

// Auth starts a SASL exchange for mech: PLAIN (RFC 4616) or LOGIN
// (draft-murchison-sasl-login).
func (s *submissionSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				s.log.Info("login refused: authorization identity differs", "username", username)
				return smtp.ErrAuthFailed
			}
			return s.login(username, password)
		}), nil
	case sasl.Login:
		return newLoginServer(s.login), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// login checks a user name and password through accounts (which throttles
// failures) and makes the session authenticated.
func (s *submissionSession) login(username, password string) error {
	s.act.Begin("AUTH")
	defer s.act.End()
	ctx, cancel := context.WithTimeout(accounts.WithLogger(context.Background(), s.log), authTimeout)
	defer cancel()
	user, err := s.srv.opts.Accounts.Authenticate(ctx, "smtp", s.remote, username, password)
	if err != nil {
		return reply(s.log.With("username", username), "login", err)
	}
	s.user = user
	// Out of the per-IP limits and pre-login deadlines (connguard).
	connguard.LoggedIn(s.tc)
	s.act.SetUser(user)
	s.setLogger()
	s.log.Info("logged in")
	return nil
}
