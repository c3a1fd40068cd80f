package imapd

import "testing"

func TestConfigZeroFieldsTakeDefaults(t *testing.T) {
	t.Parallel()
	got := Config{MaxConns: 7}.withDefaults()
	want := DefaultConfig()
	want.MaxConns = 7
	if got != want {
		t.Fatalf("withDefaults = %+v, want %+v", got, want)
	}
	if DefaultConfig().MaxConnsPerUserIP < 50 {
		t.Fatalf("per-user-IP default %d < 50 (issue 5)", DefaultConfig().MaxConnsPerUserIP)
	}
}
