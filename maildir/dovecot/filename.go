package dovecot

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// FileName is a parsed Maildir file name: "<base>[:2,<flags>]". The base
// is the unique part that dovecot-uidlist records; it may carry ",S=<size>"
// (bytes on disk) and ",W=<vsize>" (bytes with CRLF line ends).
type FileName struct {
	// Base is the part before the ':'.
	Base string
	// Info is the part after the ':', such as "2,FS"; "" when absent.
	Info string
	// Size is the S= field, -1 if absent.
	Size int64
	// VSize is the W= field, -1 if absent.
	VSize int64
	// Sec is the leading "<sec>." of the base (the delivery time), 0 if
	// it does not parse.
	Sec int64
}

// infoSep separates the base of a Maildir file name from its info.
const infoSep = ':'

// SplitName splits a Maildir file name into its base and its info ("" when
// absent), as ParseFileName does, without parsing either.
func SplitName(name string) (base, info string) {
	base, info, _ = strings.Cut(name, string(infoSep))
	return base, info
}

// ParseFileName parses a Maildir file name. It never fails: fields that do
// not parse are left unknown, so any file is still served.
func ParseFileName(name string) FileName {
	fn := FileName{Size: -1, VSize: -1}
	fn.Base, fn.Info = SplitName(name)
	// Fields after the first comma of the base: S=, W=, others ignored.
	if i := strings.IndexByte(fn.Base, ','); i >= 0 {
		for _, f := range strings.Split(fn.Base[i+1:], ",") {
			if v, ok := strings.CutPrefix(f, "S="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
					fn.Size = n
				}
			} else if v, ok := strings.CutPrefix(f, "W="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
					fn.VSize = n
				}
			}
		}
	}
	if i := strings.IndexByte(fn.Base, '.'); i > 0 {
		if n, err := strconv.ParseInt(fn.Base[:i], 10, 64); err == nil && n > 0 {
			fn.Sec = n
		}
	}
	return fn
}

// flagLetters returns the flag letters of an info string ("2,FS" → "FS"),
// or "" for an info in another version or none.
func flagLetters(info string) string {
	if l, ok := strings.CutPrefix(info, "2,"); ok {
		return l
	}
	return ""
}

// withLetters returns the info for the given flag letters, sorted in
// ASCII order as the Maildir specification requires.
func withLetters(letters []byte) string {
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	return "2," + string(letters)
}

// FullName is the file name for base and info (see SplitName).
func FullName(base, info string) string {
	if info == "" {
		return base
	}
	return base + string(infoSep) + info
}

// UniqueBase returns a new unique base name
// "<sec>.M<usec>P<pid>Q<n>.<host>" for time t, as Dovecot makes them:
// n counts the files the process pid made; host must come from
// SafeHost.
func UniqueBase(t time.Time, pid int, n uint64, host string) string {
	var b []byte
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, ".M"...)
	b = strconv.AppendInt(b, int64(t.Nanosecond()/1000), 10)
	b = append(b, 'P')
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, 'Q')
	b = strconv.AppendUint(b, n, 10)
	b = append(b, '.')
	b = append(b, host...)
	return string(b)
}

// WithSizes appends ",S=<size>,W=<vsize>" to a base.
func WithSizes(base string, size, vsize int64) string {
	return base + ",S=" + strconv.FormatInt(size, 10) + ",W=" + strconv.FormatInt(vsize, 10)
}

// SafeHost makes a host name safe for a Maildir file name, as the Maildir
// specification asks: "/" becomes "\057" and ":" becomes "\072"; a ","
// (which would start a field) becomes "\054"; "" becomes "localhost".
func SafeHost(h string) string {
	if h == "" {
		h = "localhost"
	}
	r := strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`)
	return r.Replace(h)
}
