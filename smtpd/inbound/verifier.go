package inbound

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"
)

// DefaultTimeout bounds all DNS lookups of one message together.
const DefaultTimeout = 10 * time.Second

// Verifier runs the checks. The zero value asks the system resolver with
// DefaultTimeout.
type Verifier struct {
	// Resolver answers every DNS question; net.DefaultResolver when nil.
	Resolver Resolver
	// Timeout bounds the lookups of one message, SPF, DKIM and DMARC
	// together; DefaultTimeout when 0. A check whose lookups run out of
	// time is a temperror.
	Timeout time.Duration
	// Sample reports whether a message that fails DMARC falls in the
	// pct percent sample of its policy (RFC 7489 section 6.6.4); random
	// when nil.
	Sample func(pct int) bool
}

// Input is what Check looks at.
type Input struct {
	// IP is the client's address.
	IP netip.Addr
	// Helo is the name the client gave in HELO/EHLO.
	Helo string
	// MailFrom is the envelope sender, "" for the null sender.
	MailFrom string
	// Message reads the whole message as received (CRLF line ends).
	Message io.Reader
}

// Result is the outcome of every check.
type Result struct {
	SPF   SPFResult
	DKIM  []DKIMResult
	DMARC DMARCResult
}

// Check verifies one message. The error is for a message that cannot be
// read (or whose header exceeds MaxHeaderBytes); DNS trouble is a result
// (temperror), not an error.
func (v *Verifier) Check(ctx context.Context, in Input) (*Result, error) {
	r := v.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	sample := v.Sample
	if sample == nil {
		sample = func(pct int) bool { return rand.IntN(100) < pct }
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	block, rest, err := ReadHeader(in.Message)
	if err != nil {
		return nil, err
	}
	fields := splitFields(block)
	res := &Result{SPF: checkSPF(ctx, r, in.IP, in.Helo, in.MailFrom)}
	res.DKIM = checkDKIM(ctx, r, fields, io.MultiReader(bytes.NewReader(block), rest))
	from, fromErr := fromDomain(fields)
	res.DMARC = checkDMARC(ctx, r, from, fromErr, res.SPF, res.DKIM, sample)
	return res, nil
}
