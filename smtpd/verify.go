package smtpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"postern/maildir"
	"postern/smtpd/inbound"
)

// junkFolder is where quarantined messages go, created with the \Junk
// special use (RFC 6154) when a user has none.
const junkFolder = "Junk"

// verifySender runs sender verification (package inbound) on a message
// received on port 25 and applies its outcome to msg: forged
// Authentication-Results removed, ours added, quarantined mail sent to
// Junk. It returns the refusal for a message DMARC says to reject and
// for one whose From: claims a local domain without passing DMARC.
// Submission never comes here.
func (s *session) verifySender(ctx context.Context, log *slog.Logger, msg *message) error {
	cfg := s.srv.cfg.VerifyConfig
	if s.srv.submission || !cfg.verifying() {
		return nil
	}
	v := inbound.Verifier{Resolver: s.srv.dns, Timeout: cfg.DNSTimeout}
	res, err := v.Check(ctx, inbound.Input{IP: s.remoteIP, Helo: s.conn.Hostname(), MailFrom: msg.from,
		Message: msg.body.reader()})
	if err != nil {
		return reply(log, "sender verification", fmt.Errorf("verify sender: %w", err))
	}
	if err := msg.stripForged(s.srv.hostname); err != nil {
		return reply(log, "sender verification", err)
	}
	if msg.header != nil {
		log.Info("forged Authentication-Results removed", "removed", msg.stripped)
	}
	msg.added += res.Header(s.srv.hostname)
	policy := res.DMARC.Policy
	own := res.DMARC.From != "" && s.srv.opts.Accounts.IsLocalDomain(res.DMARC.From)
	attrs := []any{"spf", res.SPF.Value, "dkim", dkimSummary(res.DKIM), "dmarc", res.DMARC.Value,
		"policy", policy, "header_from", res.DMARC.From, "own_domain", own}
	if res.SPF.Value == authres.ResultTempError || res.SPF.Value == authres.ResultPermError {
		attrs = append(attrs, "spf_err", res.SPF.Err)
	}
	if res.DMARC.Err != nil {
		attrs = append(attrs, "dmarc_err", res.DMARC.Err)
	}
	log.Info("sender verification", attrs...)
	switch {
	case own && res.DMARC.Value == authres.ResultTempError:
		return replyVerifyTemporary
	case own && res.DMARC.Value != authres.ResultPass:
		log.Warn("message refused: local From domain without DMARC pass", "header_from", res.DMARC.From)
		return replyOwnDomainSpoof
	case policy == inbound.PolicyReject && !cfg.DMARCRejectToJunk:
		log.Info("message refused: DMARC policy reject", "header_from", res.DMARC.From)
		return replyDMARCReject(res.DMARC.From)
	case policy == inbound.PolicyReject, policy == inbound.PolicyQuarantine:
		msg.folder = junkFolder
	}
	return nil
}

// dkimSummary is the DKIM results for the log: "none", or each
// signature's value and domain ("pass:a.example,fail:b.example").
func dkimSummary(rs []inbound.DKIMResult) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r.Value) + ":" + r.Domain
	}
	return strings.Join(parts, ",")
}

// stripForged removes from msg's header the Authentication-Results fields
// that claim to be ours (inbound.StripForged): when there are any,
// msg.header becomes the cleaned header block that content puts in place
// of the received one.
func (m *message) stripForged(authservID string) error {
	block, _, err := inbound.ReadHeader(m.body.reader())
	if err != nil {
		return fmt.Errorf("verify sender: %w", err)
	}
	kept, removed := inbound.StripForged(block, authservID)
	if removed > 0 {
		m.header, m.headerLen, m.stripped = kept, int64(len(block)), removed
	}
	return nil
}

// content reads the message as received, with the header cleaned by
// stripForged when it was.
func (m *message) content() io.Reader {
	r := m.body.reader()
	if m.header == nil {
		return r
	}
	return io.MultiReader(bytes.NewReader(m.header), &skipReader{r: r, n: m.headerLen})
}

// skipReader drops the first n bytes of r.
type skipReader struct {
	r io.Reader
	n int64
}

func (s *skipReader) Read(p []byte) (int, error) {
	if s.n > 0 {
		k, err := io.CopyN(io.Discard, s.r, s.n)
		s.n -= k
		if err != nil {
			return 0, err
		}
	}
	return s.r.Read(p)
}

// ensureFolder creates folder with its special use for each user who has
// none (a Junk folder deleted by the user comes back when mail is
// quarantined). Failures are left for Deliver to report per user.
func ensureFolder(store *maildir.Store, users []string, folder string) {
	for _, u := range users {
		if a, err := store.Account(u); err == nil {
			if err := a.CreateFolder(folder, `\`+folder); err != nil && !errors.Is(err, maildir.ErrExists) {
				slog.Debug("create folder for delivery", "user", u, "folder", folder, "err", err)
			}
		}
	}
}
