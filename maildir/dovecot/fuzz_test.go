package dovecot

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
		l, ok := SalvageUIDList(data)
		var last uint32
		for _, r := range l.Records {
			if r.UID <= last || (ok && r.UID >= l.Header.Next) || r.Base == "" {
				t.Fatalf("record %+v after UID %d, next %d", r, last, l.Header.Next)
			}
			last = r.UID
		}
		if !ok {
			return
		}
		again, err := ParseUIDList(l.Format())
		if err != nil {
			t.Fatalf("formatted list does not parse: %v\n%q", err, l.Format())
		}
		if again.Header.Validity != l.Header.Validity || again.Header.Next != l.Header.Next || len(again.Records) != len(l.Records) {
			t.Fatalf("round trip: %+v became %+v", l, again)
		}
		for i := range l.Records {
			if again.Records[i].UID != l.Records[i].UID || again.Records[i].Base != l.Records[i].Base {
				t.Fatalf("round trip record %d: %+v became %+v", i, l.Records[i], again.Records[i])
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
		fn := ParseFileName(name)
		if i := strings.IndexByte(name, ':'); i >= 0 && fn.Base+":"+fn.Info != name {
			t.Fatalf("%q split into %q and %q", name, fn.Base, fn.Info)
		}
		fs := parseLetters(flagLetters(fn.Info))
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
		k := ParseKeywords(data)
		seen := map[string]bool{}
		for i, n := range k.byIndex {
			if n == "" {
				continue
			}
			if CheckKeyword(n) != nil || seen[strings.ToLower(n)] {
				t.Fatalf("index %d holds bad or repeated keyword %q", i, n)
			}
			seen[strings.ToLower(n)] = true
		}
		again := ParseKeywords(k.Format())
		if again.byIndex != k.byIndex || !bytes.Equal(again.Format(), k.Format()) {
			t.Fatalf("round trip %q: %v became %v", data, k.byIndex, again.byIndex)
		}
	})
}
