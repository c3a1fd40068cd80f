package maildir

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzUIDList: any file content parses without panic; the records that
// survive have increasing UIDs below UIDNEXT, and a formatted list reads
// back the same.
func FuzzUIDList(f *testing.F) {
	f.Add([]byte("3 V1764300000 N43 G0f1e2d3c4b5a69788796a5b4c3d2e1f0\n41 :1764300001.M12P345Q1.host,S=4096,W=4180\n42 W5120 :1764300999.name\n"))
	f.Add([]byte("1 1764300000 3\n1 a\n2 b\n"))
	f.Add([]byte("3 V1 N1\n5 :x\n4 :y\n7 W :z"))
	f.Add([]byte("\x00garbage\n\n:::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, ok := salvageUIDList(data)
		var last uint32
		for _, r := range l.recs {
			if r.uid <= last || (ok && r.uid >= l.hdr.next) || r.base == "" {
				t.Fatalf("record %+v after UID %d, next %d", r, last, l.hdr.next)
			}
			last = r.uid
		}
		if !ok {
			return
		}
		again, err := parseUIDList(l.format())
		if err != nil {
			t.Fatalf("formatted list does not parse: %v\n%q", err, l.format())
		}
		if again.hdr.validity != l.hdr.validity || again.hdr.next != l.hdr.next || len(again.recs) != len(l.recs) {
			t.Fatalf("round trip: %+v became %+v", l, again)
		}
		for i := range l.recs {
			if again.recs[i].uid != l.recs[i].uid || again.recs[i].base != l.recs[i].base {
				t.Fatalf("round trip record %d: %+v became %+v", i, l.recs[i], again.recs[i])
			}
		}
	})
}

// FuzzFileName: any file name parses; the flag letters written back are
// sorted and read back to the same flags.
func FuzzFileName(f *testing.F) {
	f.Add("1764300001.M12P345Q1.host,S=4096,W=4180:2,FRSa")
	f.Add("1764300001.host:2,")
	f.Add("weird,S=-1,W=x:1,abc")
	f.Add(":2,TTTzz\x00")
	f.Fuzz(func(t *testing.T, name string) {
		fn := parseFileName(name)
		if i := strings.IndexByte(name, ':'); i >= 0 && fn.base+":"+fn.info != name {
			t.Fatalf("%q split into %q and %q", name, fn.base, fn.info)
		}
		fs := parseLetters(flagLetters(fn.info))
		letters := fs.letters()
		if info := withLetters(slices.Clone(letters)); !slices.IsSorted([]byte(flagLetters(info))) {
			t.Fatalf("unsorted info %q", info)
		}
		if again := parseLetters(flagLetters(withLetters(letters))); again != fs {
			t.Fatalf("flags %+v became %+v", fs, again)
		}
	})
}

// FuzzUTF7: decoding accepts only what encoding produces, so the two are
// inverse both ways.
func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "a&-b", "Entw&APw-rfe", "&ZeVnLIqe-", "&U,BTFw-", "&-&-", "&AGE-", "&2D3eAA-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dec, err := decodeUTF7(s); err == nil {
			if enc := encodeUTF7(dec); enc != s {
				t.Fatalf("decode %q = %q, which encodes as %q", s, dec, enc)
			}
		}
		if utf8.ValidString(s) {
			enc := encodeUTF7(s)
			if dec, err := decodeUTF7(enc); err != nil || dec != s {
				t.Fatalf("encode %q = %q, which decodes as %q, %v", s, enc, dec, err)
			}
		}
	})
}

// FuzzKeywords: any dovecot-keywords content parses; the table has no
// duplicates and formats to a file that reads back the same.
func FuzzKeywords(f *testing.F) {
	f.Add([]byte("0 $Forwarded\n1 Junk\n25 last\n"))
	f.Add([]byte("0 a\n0 b\n1 A\n26 x\n-1 y\nno\n"))
	f.Add([]byte("3 (bad)\n4 \\Seen\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k := parseKeywords(data)
		seen := map[string]bool{}
		for i, n := range k.byIndex {
			if n == "" {
				continue
			}
			if checkKeyword(n) != nil || seen[strings.ToLower(n)] {
				t.Fatalf("index %d holds bad or repeated keyword %q", i, n)
			}
			seen[strings.ToLower(n)] = true
		}
		again := parseKeywords(k.format())
		if again.byIndex != k.byIndex || !bytes.Equal(again.format(), k.format()) {
			t.Fatalf("round trip %q: %v became %v", data, k.byIndex, again.byIndex)
		}
	})
}

// FuzzHeaderCacheIndex: any cache file content is indexed without panic,
// and only intact records for live messages are kept.
func FuzzHeaderCacheIndex(f *testing.F) {
	c := &headerCache{}
	good := make([]byte, hcHeaderLen)
	copy(good, hcMagic)
	f.Add(append(good, 0x10, 0, 0, 0, 1, 0, 0, 0, 3, 0, 'a', 'b', 'c', 'S', ':', ' ', 'x', '\n', 0, 0, 0, 0))
	f.Add([]byte(hcMagic + "\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < hcHeaderLen {
			return
		}
		c.recs, c.total = map[uint32]hcLoc{}, 0
		end := c.index(data, []uidBase{{1, "abc"}, {2, "x"}})
		if end < hcHeaderLen || end > int64(len(data)) {
			t.Fatalf("end %d of %d bytes", end, len(data))
		}
		for uid, loc := range c.recs {
			body, n, ok := hcRecord(data[loc.off:])
			if !ok || n != int(loc.n) {
				t.Fatalf("uid %d: record at %d not intact", uid, loc.off)
			}
			if ruid, _, _, ok := hcBodyRaw(body); !ok || ruid != uid {
				t.Fatalf("uid %d: record says %d", uid, ruid)
			}
		}
	})
}
