package pop3d

import (
	"fmt"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"postern/accounts/connguard"
)

// TestConfigTOML: the [pop3] keys documented in docs/pop3.md decode into
// Config, durations written as Go duration strings; keys left out take
// their defaults.
func TestConfigTOML(t *testing.T) {
	t.Parallel()
	var cfg Config
	doc := "household = true\nidle_timeout = \"12m\"\nmax_errors = 4\n"
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	got := cfg.withDefaults()
	want := Config{
		Household:   true,
		IdleTimeout: 12 * time.Minute,
		MaxErrors:   4,
		Limits:      connguard.DefaultLimits(DefaultMaxConnections),
	}
	if got != want {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if DefaultConfig() != (Config{}).withDefaults() {
		t.Fatalf("DefaultConfig %+v differs from the zero Config's defaults", DefaultConfig())
	}
}

// TestConfigValidate: the defaults pass; every bad value is named by its
// key.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set  func(*Config)
		want string // "<nil>" = valid
	}{
		{func(*Config) {}, "<nil>"},
		{func(c *Config) { c.Household = true }, "<nil>"},
		{func(c *Config) { c.MaxConnections = 0 }, "max_connections: must be at least 1, got 0"},
		{func(c *Config) { c.MaxErrors = -2 }, "max_errors: must be at least 1, got -2"},
		{func(c *Config) { c.IdleTimeout = 600 }, "idle_timeout: must be between 1s and 24h0m0s, got 600ns"},
		{func(c *Config) { c.LoginCommandTimeout = 72 * time.Hour }, "login_command_timeout: must be between 1s and 24h0m0s, got 72h0m0s"},
		{func(c *Config) { *c = Config{} },
			"idle_timeout: must be between 1s and 24h0m0s, got 0s\nmax_errors: must be at least 1, got 0\n" +
				"max_connections: must be at least 1, got 0\nmax_connections_per_ip: must be at least 1, got 0\n" +
				"tls_handshake_timeout: must be between 1s and 24h0m0s, got 0s\nlogin_command_timeout: must be between 1s and 24h0m0s, got 0s\n" +
				"login_lifetime: must be between 1s and 24h0m0s, got 0s"},
	} {
		c := DefaultConfig()
		tc.set(&c)
		if got := fmt.Sprint(c.Validate()); got != tc.want {
			t.Errorf("Validate() = %s\nwant %s", got, tc.want)
		}
	}
}
