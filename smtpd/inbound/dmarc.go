package inbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Policy is what a DMARC result asks the receiver to do with the message
// (RFC 7489 section 6.3, p= and sp=).
type Policy string

// The policies, from the mildest.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// DMARCResult is the DMARC verdict for the From: domain.
type DMARCResult struct {
	// Value is pass (SPF or DKIM passed for an aligned domain), fail,
	// none (no record), temperror or permerror (no single From:
	// address, or a malformed record).
	Value authres.ResultValue
	// From is the domain of the From: address ("" when there is none).
	From string
	// Policy is what to do with the message: the record's p= (or sp=
	// for a subdomain) when Value is fail and the message fell in the
	// pct= sample, one step milder when it did not (RFC 7489 section
	// 6.6.4), and PolicyNone for every other Value.
	Policy Policy
	// Record is the policy the record states for From (p= or sp=),
	// before sampling; "" without a record.
	Record Policy
	// Err says why, for the log only.
	Err error
}

// fromDomain returns the domain of the message's one From: address
// (RFC 7489 section 6.6.1); an error when there is none or several.
func fromDomain(h []field) (string, error) {
	vals := values(h, "From")
	if len(vals) != 1 {
		return "", fmt.Errorf("inbound: %d From fields", len(vals))
	}
	list, err := (&mail.AddressParser{WordDecoder: lenientWords}).ParseList(vals[0])
	if err != nil {
		return "", fmt.Errorf("inbound: From: %w", err)
	}
	if len(list) != 1 {
		return "", fmt.Errorf("inbound: From has %d addresses", len(list))
	}
	d := domainOf(list[0].Address)
	if d == "" {
		return "", errors.New("inbound: From address has no domain")
	}
	return d, nil
}

// lenientWords decodes RFC 2047 display names without failing on unknown
// charsets: only the address matters here.
var lenientWords = &mime.WordDecoder{CharsetReader: func(_ string, input io.Reader) (io.Reader, error) {
	return input, nil
}}

// orgDomain is the organizational domain of d (RFC 7489 section 3.2):
// the public suffix plus one label; d itself when it has none.
func orgDomain(d string) string {
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// aligned reports whether an authenticated domain aligns with the From:
// domain (RFC 7489 section 3.1): equal in strict mode, same
// organizational domain in relaxed mode (the default).
func aligned(from, auth string, mode dmarc.AlignmentMode) bool {
	if from == "" || auth == "" {
		return false
	}
	if strings.EqualFold(from, auth) {
		return true
	}
	if mode == dmarc.AlignmentStrict {
		return false
	}
	return strings.EqualFold(orgDomain(from), orgDomain(auth))
}

// lookupPolicy finds the DMARC record of from: at _dmarc.<from>, else at
// the organizational domain (RFC 7489 section 6.6.3). orgLevel reports
// the latter.
func lookupPolicy(ctx context.Context, r Resolver, from string) (rec *dmarc.Record, orgLevel bool, err error) {
	opts := &dmarc.LookupOptions{LookupTXT: txtLookup(ctx, r)}
	rec, err = dmarc.LookupWithOptions(from, opts)
	if !errors.Is(err, dmarc.ErrNoPolicy) {
		return rec, false, err
	}
	org := orgDomain(from)
	if org == from {
		return nil, false, err
	}
	rec, err = dmarc.LookupWithOptions(org, opts)
	return rec, true, err
}

// checkDMARC evaluates DMARC for the From: domain from given the SPF and
// DKIM results; sample reports whether a failing message falls in a
// pct= sample.
func checkDMARC(ctx context.Context, r Resolver, from string, fromErr error, spfRes SPFResult,
	dkimRes []DKIMResult, sample func(pct int) bool) DMARCResult {
	res := DMARCResult{From: from, Policy: PolicyNone}
	if fromErr != nil {
		res.Value, res.Err = authres.ResultPermError, fromErr
		return res
	}
	rec, orgLevel, err := lookupPolicy(ctx, r, from)
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		res.Value = authres.ResultNone
		return res
	case dmarc.IsTempFail(err):
		res.Value, res.Err = authres.ResultTempError, err
		return res
	case err != nil:
		res.Value, res.Err = authres.ResultPermError, err
		return res
	}
	res.Record = Policy(rec.Policy)
	if orgLevel && rec.SubdomainPolicy != "" {
		res.Record = Policy(rec.SubdomainPolicy)
	}
	temp := false
	spfAligned := aligned(from, spfRes.Domain, rec.SPFAlignment)
	if spfAligned && spfRes.Value == authres.ResultPass {
		res.Value = authres.ResultPass
		return res
	}
	temp = spfAligned && spfRes.Value == authres.ResultTempError
	for _, d := range dkimRes {
		if !aligned(from, d.Domain, rec.DKIMAlignment) {
			continue
		}
		if d.Value == authres.ResultPass {
			res.Value = authres.ResultPass
			return res
		}
		temp = temp || d.Value == authres.ResultTempError
	}
	if temp {
		// An aligned identifier could not be checked: not a failure
		// (RFC 7489 section 6.6.2 ends in temperror, no policy).
		res.Value = authres.ResultTempError
		return res
	}
	res.Value = authres.ResultFail
	res.Policy = res.Record
	pct := 100
	if rec.Percent != nil {
		pct = *rec.Percent
	}
	if pct < 100 && !sample(pct) {
		// RFC 7489 section 6.6.4: outside the sample, the next milder
		// policy applies.
		switch res.Policy {
		case PolicyReject:
			res.Policy = PolicyQuarantine
		case PolicyQuarantine:
			res.Policy = PolicyNone
		}
	}
	return res
}
