package maildir

import (
	"io"
	"testing"
)

// With deferred numbering, a read right after Deliver returns sees the
// message: every reader waits for the deliveries already returned.
func TestDeferredReadYourWrites(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Hostname: "test", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const user = "rw@example.org"
	f := testFolder(t, s, user, "INBOX")
	for i := 1; i <= 20; i++ {
		deliver(t, s, user, hcMessage(i))
		uid := uint32(i)
		switch i % 5 {
		case 0:
			if msgs, next, err := f.Messages(); err != nil || len(msgs) != i || next != uid+1 {
				t.Fatalf("delivery %d: Messages %d, next %d, %v", i, len(msgs), next, err)
			}
		case 1:
			if st, err := f.Status(); err != nil || st.Messages != uid {
				t.Fatalf("delivery %d: Status %+v %v", i, st, err)
			}
		case 2:
			snap, _, cancel := f.Subscribe(func(Event) {})
			cancel()
			if len(snap) != i {
				t.Fatalf("delivery %d: Subscribe snapshot of %d", i, len(snap))
			}
		case 3:
			rc, _, err := f.Open(uid)
			if err != nil {
				t.Fatalf("delivery %d: Open: %v", i, err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != hcMessage(i) {
				t.Fatalf("delivery %d: content %q", i, b)
			}
		case 4:
			if h, err := f.EnvelopeHeader(uid); err != nil || string(h) != hcWant(i) {
				t.Fatalf("delivery %d: EnvelopeHeader %q %v", i, h, err)
			}
		}
	}
}
