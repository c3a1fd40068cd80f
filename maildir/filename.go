package maildir

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// fileName is a parsed Maildir file name: "<base>[:2,<flags>]". The base
// is the unique part that dovecot-uidlist records; it may carry ",S=<size>"
// (bytes on disk) and ",W=<vsize>" (bytes with CRLF line ends).
type fileName struct {
	base  string
	info  string // after ':', such as "2,FS"; "" when absent
	size  int64  // S=, -1 if absent
	vsize int64  // W=, -1 if absent
	sec   int64  // leading "<sec>." of the base, 0 if it does not parse
}

// infoSep separates the base of a Maildir file name from its info.
const infoSep = ':'

// parseFileName parses a Maildir file name. It never fails: fields that do
// not parse are left unknown, so any file is still served.
func parseFileName(name string) fileName {
	fn := fileName{size: -1, vsize: -1}
	fn.base, fn.info, _ = strings.Cut(name, string(infoSep))
	// Fields after the first comma of the base: S=, W=, others ignored.
	if i := strings.IndexByte(fn.base, ','); i >= 0 {
		for _, f := range strings.Split(fn.base[i+1:], ",") {
			if v, ok := strings.CutPrefix(f, "S="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
					fn.size = n
				}
			} else if v, ok := strings.CutPrefix(f, "W="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
					fn.vsize = n
				}
			}
		}
	}
	if i := strings.IndexByte(fn.base, '.'); i > 0 {
		if n, err := strconv.ParseInt(fn.base[:i], 10, 64); err == nil && n > 0 {
			fn.sec = n
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

// fullName is the file name for base and info.
func fullName(base, info string) string {
	if info == "" {
		return base
	}
	return base + string(infoSep) + info
}

// uniqueBase returns a new unique base name
// "<sec>.M<usec>P<pid>Q<n>.<host>" for time t.
func uniqueBase(t time.Time, pid int, n uint64, host string) string {
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

// withSizes appends ",S=<size>,W=<vsize>" to a base.
func withSizes(base string, size, vsize int64) string {
	return base + ",S=" + strconv.FormatInt(size, 10) + ",W=" + strconv.FormatInt(vsize, 10)
}

// safeHost makes a host name safe for a Maildir file name, as the Maildir
// specification asks: "/" becomes "\057" and ":" becomes "\072"; a ","
// (which would start a field) becomes "\054".
func safeHost(h string) string {
	if h == "" {
		h = "localhost"
	}
	r := strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`)
	return r.Replace(h)
}
