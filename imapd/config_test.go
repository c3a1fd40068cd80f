package imapd

import (
	"fmt"
	"testing"
	"time"

	"postern/accounts/connguard"
)

func TestConfigZeroFieldsTakeDefaults(t *testing.T) {
	t.Parallel()
	got := Config{Limits: connguard.Limits{MaxConnections: 7}}.withDefaults()
	want := DefaultConfig()
	want.MaxConnections = 7
	if got != want {
		t.Fatalf("withDefaults = %+v, want %+v", got, want)
	}
	if DefaultConfig().MaxConnectionsPerUserIP < 50 {
		t.Fatalf("per-user-IP default %d < 50 (issue 5)", DefaultConfig().MaxConnectionsPerUserIP)
	}
}

// Validate accepts the defaults and names the key of every bad value.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set  func(*Config)
		want string // "<nil>" = valid
	}{
		{func(*Config) {}, "<nil>"},
		{func(c *Config) { c.MaxConnections = 0 }, "max_connections: must be at least 1, got 0"},
		{func(c *Config) { c.MaxConnectionsPerUserIP = -1 }, "max_connections_per_user_ip: must be at least 1, got -1"},
		{func(c *Config) { c.MaxMessageBytes = 0 }, "max_message_bytes: must be between 1 and 4294967295, got 0"},
		{func(c *Config) { c.MaxMessageBytes = MaxMaxMessageBytes + 1 }, "max_message_bytes: must be between 1 and 4294967295, got 4294967296"},
		{func(c *Config) { c.IdleKeepalive = 240 }, "idle_keepalive: must be between 1s and 24h0m0s, got 240ns"},
		{func(c *Config) { c.IdleTimeout = -time.Minute }, "idle_timeout: must be between 1s and 24h0m0s, got -1m0s"},
		{func(c *Config) { c.CommandTimeout = 48 * time.Hour }, "command_timeout: must be between 1s and 24h0m0s, got 48h0m0s"},
		{func(c *Config) { c.IdleTimeout = MaxTimeout }, "<nil>"},
		{func(c *Config) { c.MaxConnections, c.IdleTimeout = -1, 0 },
			"idle_timeout: must be between 1s and 24h0m0s, got 0s\nmax_connections: must be at least 1, got -1"},
	} {
		c := DefaultConfig()
		tc.set(&c)
		if got := fmt.Sprint(c.Validate()); got != tc.want {
			t.Errorf("Validate() = %s\nwant %s", got, tc.want)
		}
	}
}
