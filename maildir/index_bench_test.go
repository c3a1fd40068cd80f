package maildir

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkOpen100kScan: BenchmarkOpen100k without the folder index (the
// index file is removed before each open, so the folder is listed and
// its uidlist parsed): the reference for what the index saves.
func BenchmarkOpen100kScan(b *testing.B) {
	s, f := openBig(b)
	ix := filepath.Join(f.dir, indexFile)
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.Remove(ix); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		b.StartTimer()
		s, f := openBig(b)
		b.StopTimer()
		if f.indexed != (ixStamps{}) {
			b.Fatal("index used")
		}
		s.Close() // writes the index again
		b.StartTimer()
	}
}
