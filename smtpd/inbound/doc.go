// Package inbound verifies who sent a message received from another
// server on port 25: SPF (RFC 7208) for the envelope sender, DKIM
// (RFC 6376) for every signature, and DMARC (RFC 7489) for the From:
// domain, with the policy the result asks for. It writes the outcome as
// an Authentication-Results header (RFC 8601) and removes forged ones.
//
// # Implementation notes
//
// A Verifier holds no state between messages: Check reads the message
// once (header, then body through the DKIM verifier) and asks DNS only
// through the Resolver it is given, every lookup bounded by one deadline
// for the whole message (Verifier.Timeout). SPF is blitiri.com.ar/go/spf
// (10-lookup and 2-void-lookup limits of RFC 7208 section 4.6.4), DKIM is
// go-msgauth's dkim, and DMARC is go-msgauth's record parser plus this
// package's organizational-domain fallback, alignment and policy choice
// (dmarc.go). Nothing here decides SMTP replies: the caller (smtpd)
// applies Result.DMARC.Policy.
package inbound
