package inbound

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// countingResolver answers TXT questions from a map and counts them.
type countingResolver struct {
	Resolver
	asked map[string]int
	fail  bool
}

func (r *countingResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.asked[name]++
	switch {
	case r.fail:
		return nil, &net.DNSError{Err: "timeout", Name: name, IsTimeout: true}
	case name == "spf.example":
		return []string{"v=spf1 -all"}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Answers and "no such name" are kept for CacheTTL; failures are asked
// again.
func TestCache(t *testing.T) {
	r := &countingResolver{asked: map[string]int{}}
	c := NewCache(r)
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if txt, err := c.LookupTXT(ctx, "spf.example"); err != nil || len(txt) != 1 {
			t.Fatalf("answer %v, %v", txt, err)
		}
		var de *net.DNSError
		if _, err := c.LookupTXT(ctx, "none.example"); !errors.As(err, &de) || !de.IsNotFound {
			t.Fatalf("no such name: %v", err)
		}
	}
	if r.asked["spf.example"] != 1 || r.asked["none.example"] != 1 {
		t.Fatalf("asked %v, want each once", r.asked)
	}
	now = now.Add(CacheTTL)
	c.LookupTXT(ctx, "spf.example")
	if r.asked["spf.example"] != 2 {
		t.Fatalf("not asked again after CacheTTL: %v", r.asked)
	}
	r.fail = true
	for range 2 {
		c.LookupTXT(ctx, "down.example")
	}
	if r.asked["down.example"] != 2 {
		t.Fatalf("a failure was kept: %v", r.asked)
	}
}
