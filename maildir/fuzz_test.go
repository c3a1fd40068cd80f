package maildir

import "testing"

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
