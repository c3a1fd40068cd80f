package accounts

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address limits.
const (
	// MaxLocalPartLen is the longest local part (RFC 5321 section 4.5.3.1.1).
	MaxLocalPartLen = 64
	// MaxDomainLen is the longest domain name (RFC 5321 section 4.5.3.1.2).
	MaxDomainLen = 255
	// MaxLabelLen is the longest DNS label (RFC 1035 section 2.3.4).
	MaxLabelLen = 63
	// PlusSeparator separates a local part from its tag: anna+shop@ reaches anna@.
	PlusSeparator = '+'
)

// NormalizeAddress returns s as Postern stores addresses: local part in
// lower case, domain in lower case A-label (IDNA) form without a trailing
// dot. Quoted local parts, domain literals and malformed input are refused.
func NormalizeAddress(s string) (string, error) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", fmt.Errorf("%q: missing @: %w", s, ErrBadAddress)
	}
	local, err := normalizeLocal(s[:at])
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	domain, err := NormalizeDomain(s[at+1:])
	if err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	return local + "@" + domain, nil
}

// normalizeLocal checks a dot-atom local part (RFC 5322 section 3.2.3,
// with UTF-8 allowed as in RFC 6532) and lower-cases it.
func normalizeLocal(l string) (string, error) {
	if l == "" {
		return "", fmt.Errorf("empty local part: %w", ErrBadAddress)
	}
	if l[0] == '"' {
		return "", ErrQuotedLocalPart
	}
	if len(l) > MaxLocalPartLen {
		return "", fmt.Errorf("local part longer than %d bytes: %w", MaxLocalPartLen, ErrBadAddress)
	}
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return "", fmt.Errorf("misplaced dot in local part: %w", ErrBadAddress)
	}
	ascii, upper := true, false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 0x80:
			ascii = false
		case c >= 'A' && c <= 'Z':
			upper = true
		case !isAtext(c) && c != '.':
			return "", fmt.Errorf("character %q not allowed in local part: %w", c, ErrBadAddress)
		}
	}
	if !ascii {
		if !isValidUTF8(l) {
			return "", fmt.Errorf("local part is not UTF-8: %w", ErrBadAddress)
		}
		return strings.ToLower(l), nil
	}
	if upper {
		return strings.ToLower(l), nil
	}
	return l, nil
}

// isAtext reports whether c is an ASCII atext character (RFC 5322 section 3.2.3).
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isValidUTF8(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' {
			return false
		}
	}
	return true
}

// NormalizeDomain returns d in lower-case A-label form without a trailing
// dot, or an error if it is not a valid host name. Domain literals such as
// [192.0.2.1] are refused.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", fmt.Errorf("empty domain: %w", ErrBadAddress)
	}
	if d[0] == '[' {
		return "", fmt.Errorf("domain literals are not accepted: %w", ErrBadAddress)
	}
	if !utf8.ValidString(d) {
		return "", fmt.Errorf("domain is not valid UTF-8: %w", ErrBadAddress)
	}
	needIDNA := false
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			needIDNA = true
			break
		}
	}
	if !needIDNA && (strings.HasPrefix(d, "xn--") || strings.HasPrefix(d, "XN--") || strings.Contains(d, ".xn--") || strings.Contains(d, ".XN--")) {
		needIDNA = true
	}
	if needIDNA {
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("bad international domain: %v: %w", err, ErrBadAddress)
		}
		d = a
	}
	if len(d) > MaxDomainLen {
		return "", fmt.Errorf("domain longer than %d bytes: %w", MaxDomainLen, ErrBadAddress)
	}
	upper := false
	labelStart := 0
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			n := i - labelStart
			if n == 0 || n > MaxLabelLen {
				return "", fmt.Errorf("bad label length in domain: %w", ErrBadAddress)
			}
			if d[labelStart] == '-' || d[i-1] == '-' {
				return "", fmt.Errorf("label starts or ends with '-': %w", ErrBadAddress)
			}
			labelStart = i + 1
			continue
		}
		c := d[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			return "", fmt.Errorf("character %q not allowed in domain: %w", c, ErrBadAddress)
		}
	}
	if upper {
		d = strings.ToLower(d)
	}
	return d, nil
}

// splitAddress splits a normalized address at its last @.
func splitAddress(a string) (local, domain string) {
	at := strings.LastIndexByte(a, '@')
	return a[:at], a[at+1:]
}

// splitTag splits a local part at the first PlusSeparator into base and
// tag. A local part without one, or starting with one, has no tag.
func splitTag(local string) (base, tag string) {
	i := strings.IndexByte(local, PlusSeparator)
	if i <= 0 {
		return local, ""
	}
	return local[:i], local[i+1:]
}
