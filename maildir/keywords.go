package maildir

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// keywordsFile is Dovecot's per-folder table of keyword letters: one
// "<index> <keyword>" line per keyword, index 0 being letter "a".
const keywordsFile = "dovecot-keywords"

// maxKeywords is how many keywords a Maildir folder can hold: one per
// letter a-z (Dovecot's MAILDIR_MAX_KEYWORDS).
const maxKeywords = 26

// maxKeywordBytes bounds a keyword's length.
const maxKeywordBytes = 200

// keywords is a folder's letter table. The zero value is empty.
type keywords struct {
	byIndex [maxKeywords]string
}

// parseKeywords reads a dovecot-keywords file. Lines that do not parse
// are skipped, as Dovecot does.
func parseKeywords(data []byte) *keywords {
	k := &keywords{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		idx, name, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= maxKeywords || checkKeyword(name) != nil {
			continue
		}
		if k.index(name) >= 0 {
			continue
		}
		k.byIndex[i] = name
	}
	return k
}

// format writes the table in Dovecot's format.
func (k *keywords) format() []byte {
	var b bytes.Buffer
	for i, n := range k.byIndex {
		if n != "" {
			fmt.Fprintf(&b, "%d %s\n", i, n)
		}
	}
	return b.Bytes()
}

// name returns the keyword of index i, "" if unused.
func (k *keywords) name(i int) string {
	if k == nil || i < 0 || i >= maxKeywords {
		return ""
	}
	return k.byIndex[i]
}

// index returns the index of a keyword (case-insensitive, as IMAP
// compares keywords), or -1.
func (k *keywords) index(name string) int {
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

// add returns the index of name, adding it if there is room. It reports
// false when the table is full.
func (k *keywords) add(name string) (int, bool) {
	if i := k.index(name); i >= 0 {
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

// checkKeyword validates a keyword: an IMAP atom (RFC 9051 4.1.2 flag-keyword)
// not starting with a backslash.
func checkKeyword(s string) error {
	if s == "" || len(s) > maxKeywordBytes {
		return fmt.Errorf("%w: keyword %q: empty or too long", ErrBadName, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return fmt.Errorf("%w: keyword %q: character %q not allowed", ErrBadName, s, c)
		}
	}
	return nil
}
