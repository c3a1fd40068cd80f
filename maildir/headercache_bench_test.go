package maildir

import (
	"bufio"
	"bytes"
	"runtime"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// BenchmarkEnvelopeHeaders100k: the parsed envelope header fields of
// every message of the 100,000-message folder (what a FETCH 1:* ENVELOPE
// needs), warm: the header cache and the folder index exist and a new
// store opens the folder (timed too). Reports the heap the open folder
// holds afterwards, header cache positions included.
func BenchmarkEnvelopeHeaders100k(b *testing.B) {
	s, f := openBig(b)
	allEnvelopes(b, f) // fill the cache
	s.Close()
	b.ResetTimer()
	var heap float64
	for i := 0; i < b.N; i++ {
		var s *Store
		var f *Folder
		heap = timedHeap(b, func() {
			s, f = openBig(b)
			allEnvelopes(b, f)
		})
		runtime.KeepAlive(f)
		s.Close()
	}
	b.ReportMetric(heap, "MiB-heap")
}

// BenchmarkEnvelopeHeaders100kCold: the same from the message files
// (no header cache), for comparison.
func BenchmarkEnvelopeHeaders100kCold(b *testing.B) {
	s, f := openBig(b)
	s.Close()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, f = openBig(b)
		b.StartTimer()
		msgs, _, _ := f.Messages()
		for _, m := range msgs {
			h, err := f.Header(m.UID)
			if err != nil {
				b.Fatal(err)
			}
			parseEnvelopeForBench(b, envelopeHeader(h))
		}
		s.Close()
	}
}

// allEnvelopes reads and parses the envelope fields of every message.
func allEnvelopes(b *testing.B, f *Folder) {
	msgs, _, err := f.Messages()
	if err != nil || len(msgs) < benchMessages {
		b.Fatal(len(msgs), err)
	}
	for _, m := range msgs {
		h, err := f.EnvelopeHeader(m.UID)
		if err != nil {
			b.Fatal(err)
		}
		parseEnvelopeForBench(b, h)
	}
}

// parseEnvelopeForBench parses a header block as imapd does.
func parseEnvelopeForBench(b *testing.B, h []byte) {
	hdr, err := textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(h), len(h)+16))
	if err != nil || hdr.Get("Message-Id") == "" {
		b.Fatalf("%q: %v", h, err)
	}
}
