package inbound

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
)

// maxSignatures bounds the DKIM signatures verified per message (each
// costs a DNS lookup and a hash of the body); later ones are ignored.
const maxSignatures = 5

// DKIMResult is the verdict for one DKIM-Signature header.
type DKIMResult struct {
	// Value is pass, fail (bad signature or body hash), temperror or
	// permerror (malformed signature, no key).
	Value authres.ResultValue
	// Domain is the signing domain (d=), Selector its s= tag.
	Domain, Selector string
	// Err says why, for the log only.
	Err error
}

// checkDKIM verifies every signature (up to maxSignatures) of the message
// whose header fields are h and whose whole text msg reads. No signature
// gives an empty slice. A message the verifier cannot parse gets a
// permerror for each signature.
func checkDKIM(ctx context.Context, r Resolver, h []field, msg io.Reader) []DKIMResult {
	sigs := values(h, "DKIM-Signature")
	if len(sigs) == 0 {
		return nil
	}
	verifs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{LookupTXT: txtLookup(ctx, r), MaxVerifications: maxSignatures})
	if err != nil && err != dkim.ErrTooManySignatures {
		out := make([]DKIMResult, 0, min(len(sigs), maxSignatures))
		for _, s := range sigs[:cap(out)] {
			out = append(out, DKIMResult{Value: authres.ResultPermError, Domain: strings.ToLower(sigTag(s, "d")),
				Selector: sigTag(s, "s"), Err: fmt.Errorf("dkim: %w", err)})
		}
		return out
	}
	out := make([]DKIMResult, len(verifs))
	for i, v := range verifs {
		res := DKIMResult{Value: authres.ResultPass, Domain: strings.ToLower(v.Domain), Err: v.Err}
		if i < len(sigs) {
			res.Selector = sigTag(sigs[i], "s")
		}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			res.Value = authres.ResultTempError
		case dkim.IsPermFail(v.Err):
			res.Value = authres.ResultPermError
		default:
			res.Value = authres.ResultFail
		}
		out[i] = res
	}
	return out
}

// sigTag returns the value of one tag of a DKIM-Signature (RFC 6376
// section 3.2 tag list), without folding white space.
func sigTag(sig, name string) string {
	for _, part := range strings.Split(sig, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}
