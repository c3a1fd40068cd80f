package dovecot

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// KeywordsFile is Dovecot's per-folder table of keyword letters: one
// "<index> <keyword>" line per keyword, index 0 being letter "a". It is
// replaced whole, under its dotlock (see TakeDotlock).
const KeywordsFile = "dovecot-keywords"

// MaxKeywords is how many keywords a Maildir folder can hold: one per
// letter a-z (Dovecot's MAILDIR_MAX_KEYWORDS).
const MaxKeywords = 26

// maxKeywordBytes bounds a keyword's length.
const maxKeywordBytes = 200

// Keywords is a folder's table of keyword letters. The zero value is
// empty; a nil *Keywords names no keyword. Tables are comparable: equal
// tables compare equal with ==.
type Keywords struct {
	byIndex [MaxKeywords]string
}

// ParseKeywords reads a dovecot-keywords file. Lines that do not parse
// are skipped, as Dovecot does.
func ParseKeywords(data []byte) *Keywords {
	k := &Keywords{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		idx, name, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= MaxKeywords || CheckKeyword(name) != nil {
			continue
		}
		if k.Index(name) >= 0 {
			continue
		}
		k.byIndex[i] = name
	}
	return k
}

// Format returns the table in Dovecot's format.
func (k *Keywords) Format() []byte {
	var b bytes.Buffer
	for i, n := range k.byIndex {
		if n != "" {
			fmt.Fprintf(&b, "%d %s\n", i, n)
		}
	}
	return b.Bytes()
}

// Name returns the keyword of index i (letter 'a'+i), "" if unused.
func (k *Keywords) Name(i int) string {
	if k == nil || i < 0 || i >= MaxKeywords {
		return ""
	}
	return k.byIndex[i]
}

// Index returns the index of a keyword (case-insensitive, as IMAP
// compares keywords), or -1.
func (k *Keywords) Index(name string) int {
	if k == nil {
		return -1
	}
	for i, n := range k.byIndex {
		if n != "" && strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// Add returns the index of name, adding it if there is room. It reports
// false when the table is full. name must pass CheckKeyword.
func (k *Keywords) Add(name string) (int, bool) {
	if i := k.Index(name); i >= 0 {
		return i, true
	}
	for i, n := range k.byIndex {
		if n == "" {
			k.byIndex[i] = name
			return i, true
		}
	}
	return -1, false
}

// CheckKeyword validates a keyword: an IMAP atom (RFC 9051 4.1.2
// flag-keyword, so with no backslash) of at most 200 bytes. The
// error says what is wrong, for the caller to wrap.
func CheckKeyword(s string) error {
	if s == "" || len(s) > maxKeywordBytes {
		return fmt.Errorf("keyword %q: empty or too long", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return fmt.Errorf("keyword %q: character %q not allowed", s, c)
		}
	}
	return nil
}
