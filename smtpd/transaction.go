package smtpd

import (
	"errors"

	"github.com/emersion/go-smtp"

	"postern/accounts"
)

// Mail starts a transaction (MAIL FROM). On submission the user must be
// logged in and own the envelope sender; on port 25 any syntactically
// valid sender, and the null sender, is taken.
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.act.Begin("MAIL FROM")
	defer s.act.End()
	s.Reset()
	if s.draining() {
		return replyShuttingDown
	}
	if s.srv.submission {
		if s.user == "" {
			s.log.Info("MAIL before AUTH refused")
			return replyAuthRequired
		}
		if from == "" {
			return replySenderNotOwned
		}
	}
	if from != "" {
		addr, rerr := parseEnvelopeAddress(from)
		if rerr != nil {
			s.log.Info("sender refused", "from", from, "code", rerr.Code)
			return rerr
		}
		if s.srv.submission && !s.srv.opts.Accounts.CanSendAs(s.user, addr) {
			s.log.Info("sender not owned", "from", addr)
			return replySenderNotOwned
		}
		from = addr
	}
	if err := s.checkMail(from); err != nil { // port 25 rate limit
		return err
	}
	s.from = from
	return nil
}

// Rcpt adds a recipient (RCPT TO). Local addresses must resolve; on port
// 25 every other domain is relaying and refused, on submission it is
// queued for outbound delivery.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.act.Begin("RCPT TO")
	defer s.act.End()
	if s.srv.submission && s.user == "" {
		return replyAuthRequired
	}
	addr, rerr := parseEnvelopeAddress(to)
	if rerr != nil {
		s.log.Info("recipient refused", "to", to, "code", rerr.Code)
		return rerr
	}
	if err := s.checkRcpt(); err != nil { // port 25 rate limit
		return err
	}
	res, err := s.srv.opts.Accounts.Resolve(addr)
	switch {
	case errors.Is(err, accounts.ErrNotLocal) && s.srv.submission:
		res = accounts.Resolution{Remote: []string{addr}}
	case errors.Is(err, accounts.ErrNoSuchUser) && s.noteUnknownRecipient() != nil: // directory harvest
		return replyTooManyUnknown
	case err != nil:
		return reply(s.log.With("to", addr), "recipient", err)
	}
	if len(res.Remote) > 0 && s.srv.opts.Queue == nil {
		s.log.Info("remote recipient refused: no queue", "to", addr)
		return replyNoQueue
	}
	for _, l := range res.Local {
		if err := s.checkQuota(l.User); err != nil {
			return reply(s.log.With("to", addr), "recipient", err)
		}
	}
	s.rcpts = append(s.rcpts, recipient{addr: addr, local: res.Local, remote: res.Remote})
	return nil
}
