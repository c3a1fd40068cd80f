// Package smtpd holds Postern's SMTP front ends, built on go-smtp: the
// inbound MX server for port 25 and the authenticated submission server
// for ports 587 (STARTTLS) and 465 (implicit TLS). Outbound delivery lives
// in subpackage queue.
package smtpd
