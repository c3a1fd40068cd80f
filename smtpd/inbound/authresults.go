package inbound

import (
	"bytes"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// HeaderName is the name of the header field the results are written in
// (RFC 8601).
const HeaderName = "Authentication-Results"

// Header returns the Authentication-Results header field (RFC 8601) for
// r, CRLF-terminated, with authservID (the server's host name) as the
// authentication service identifier. Each method's result is on its own
// folded line:
//
//	Authentication-Results: mx.example.org;
//		spf=pass smtp.mailfrom=a@b.example;
//		dkim=pass header.d=b.example header.s=sel;
//		dmarc=pass header.from=b.example
//
// One dkim= result is written per signature (dkim=none without any);
// dmarc=permerror without header.from when From: has no single address.
func (r *Result) Header(authservID string) string {
	results := []authres.Result{&authres.SPFResult{Value: r.SPF.Value, From: r.SPF.MailFrom, Helo: r.SPF.Helo}}
	if len(r.DKIM) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range r.DKIM {
		// authres.DKIMResult has no header.s; the generic form writes
		// the same dkim= method with it.
		results = append(results, &authres.GenericResult{Method: "dkim", Value: d.Value,
			Params: map[string]string{"header.d": d.Domain, "header.s": d.Selector}})
	}
	results = append(results, &authres.DMARCResult{Value: r.DMARC.Value, From: r.DMARC.From})
	parts := make([]string, 0, len(results)+1)
	parts = append(parts, authservID)
	for _, res := range results {
		// Format one result at a time: each becomes "id; method=value
		// params", from which the part after "; " is taken.
		s := authres.Format("", []authres.Result{res})
		parts = append(parts, strings.TrimSpace(strings.TrimPrefix(s, "; ")))
	}
	return HeaderName + ": " + strings.Join(parts, ";\r\n\t") + "\r\n"
}

// StripForged returns the header block without the Authentication-Results
// fields whose authentication service identifier is authservID (compared
// without regard to case): such a field on an incoming message was not
// written by this server and must not be trusted (RFC 8601 section 5).
// Fields of other identifiers, and every other byte, are kept. It also
// returns how many fields it removed.
func StripForged(block []byte, authservID string) ([]byte, int) {
	fields := splitFields(block)
	var out bytes.Buffer
	removed := 0
	for _, f := range fields {
		if strings.EqualFold(f.name, HeaderName) && strings.EqualFold(servID(f.value()), authservID) {
			removed++
			continue
		}
		out.Write(f.raw)
	}
	if removed == 0 {
		return block, 0
	}
	return out.Bytes(), removed
}

// servID returns the authserv-id of an Authentication-Results value: the
// first token before ";", comments left out (RFC 8601 section 2.2).
func servID(v string) string {
	id, _, _ := strings.Cut(v, ";")
	var b strings.Builder
	depth := 0
	for _, c := range id {
		switch {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	f := strings.Fields(b.String())
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
