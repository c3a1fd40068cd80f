package queue

import (
	"fmt"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestConfigTOML: [queue] durations are strings, retry a list of them.
func TestConfigTOML(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	_, err := toml.Decode("lifetime = \"48h\"\nretry = [\"30s\", \"2m\"]\nwarn_after = \"0s\"\n", &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Lifetime != 48*time.Hour || len(cfg.Retry) != 2 || cfg.Retry[1] != 2*time.Minute || cfg.WarnAfter != 0 {
		t.Fatalf("decoded %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestConfigValidate: the defaults pass; every bad value is named by its
// key ([queue.smarthost] keys as "smarthost.KEY").
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set  func(*Config)
		want string // "<nil>" = valid
	}{
		{func(*Config) {}, "<nil>"},
		{func(c *Config) { c.WarnAfter = 0 }, "<nil>"},
		{func(c *Config) {
			c.Smarthost = Smarthost{Address: "smtp.example.net:587", Username: "u", Password: "p"}
		}, "<nil>"},
		{func(c *Config) { c.Workers = 0 }, "workers: must be at least 1, got 0"},
		{func(c *Config) { c.MXPort = 70000 }, "mx_port: must be between 1 and 65535, got 70000"},
		{func(c *Config) { c.Lifetime = 30 * time.Second }, "lifetime: must be between 1m0s and 720h0m0s, got 30s"},
		{func(c *Config) { c.Retry = nil }, "retry: must list at least one wait"},
		{func(c *Config) { c.Retry = []time.Duration{time.Minute, 60} }, "retry: each wait must be between 1s and 24h0m0s, got 60ns"},
		{func(c *Config) { c.WarnAfter = c.Lifetime }, "warn_after: must be 0 (no warning) or less than lifetime (120h0m0s), got 120h0m0s"},
		{func(c *Config) { c.ConnectTimeout = 0 }, "connect_timeout: must be between 1s and 24h0m0s, got 0s"},
		{func(c *Config) { c.DataTimeout = 48 * time.Hour }, "data_timeout: must be between 1s and 24h0m0s, got 48h0m0s"},
		{func(c *Config) { c.MaxMessageBytes = 1 << 33 }, "max_message_bytes: must be between 1 and 4294967295, got 8589934592"},
		{func(c *Config) { c.Resolver = "9.9.9.9" }, `resolver: not a host:port address: "9.9.9.9"`},
		{func(c *Config) { c.Smarthost.Address = "smtp.example.net" }, `smarthost.address: not a host:port address: "smtp.example.net"`},
		{func(c *Config) { c.Smarthost.Username = "me" }, "smarthost.password: needed with smarthost.username"},
	} {
		c := DefaultConfig()
		tc.set(&c)
		if got := fmt.Sprint(c.Validate()); got != tc.want {
			t.Errorf("Validate() = %s\nwant %s", got, tc.want)
		}
	}
}
