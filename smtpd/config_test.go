package smtpd

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// The [smtp] section reads durations as strings, zero fields take
// defaults, and max_recipients never goes below 100.
func TestConfigTOML(t *testing.T) {
	t.Parallel()
	var c Config
	_, err := toml.Decode(`
max_message_bytes = 1000000
max_recipients = 20
read_timeout = "2m"
data_timeout = "90s"
max_connections_per_ip = 5
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	got := c.withDefaults()
	want := DefaultConfig()
	want.MaxMessageBytes = 1000000
	want.MaxRecipients = MinMaxRecipients
	want.ReadTimeout = 2 * time.Minute
	want.DataTimeout = 90 * time.Second
	want.MaxConnectionsPerIP = 5
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded config\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual((Config{}).withDefaults(), DefaultConfig()) {
		t.Error("the zero Config does not take every default")
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	var back Config
	if _, err := toml.Decode(buf.String(), &back); err != nil || !reflect.DeepEqual(back, DefaultConfig()) {
		t.Errorf("round trip through TOML:\n%s\ngave %+v, %v", buf.String(), back, err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`read_timeout = "5m0s"`)) {
		t.Errorf("durations are not written as strings:\n%s", buf.String())
	}
}

// Validate accepts the defaults and names the key of every bad value.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		set  func(*Config)
		want string // "<nil>" = valid
	}{
		{func(*Config) {}, "<nil>"},
		{func(c *Config) { c.MaxConnections = 0 }, "max_connections: must be at least 1, got 0"},
		{func(c *Config) { c.MaxConnectionsPerIP = -3 }, "max_connections_per_ip: must be at least 1, got -3"},
		{func(c *Config) { c.MaxConnectionsPerNetwork = 500 }, "max_connections_per_network: must be at least 1 and below max_connections (500), so one network cannot take every connection; got 500"},
		{func(c *Config) { c.TLSHandshakeTimeout = 0 }, "tls_handshake_timeout: must be between 1s and 24h0m0s, got 0s"},
		{func(c *Config) { c.MaxMessageBytes = 0 }, "max_message_bytes: must be between 1 and 4294967295, got 0"},
		{func(c *Config) { c.MaxMessageBytes = 1 << 32 }, "max_message_bytes: must be between 1 and 4294967295, got 4294967296"},
		{func(c *Config) { c.MaxMessageBytes = MaxMaxMessageBytes }, "<nil>"},
		{func(c *Config) { c.MaxRecipients = 99 }, "max_recipients: must be at least 100 (RFC 5321 section 4.5.3.1.8), got 99"},
		{func(c *Config) { c.MaxLineLength = 512 }, "max_line_length: must be at least 1000 (RFC 5321 section 4.5.3.1.6), got 512"},
		{func(c *Config) { c.ReadTimeout = 0 }, "read_timeout: must be between 1s and 24h0m0s, got 0s"},
		{func(c *Config) { c.WriteTimeout = 300 }, "write_timeout: must be between 1s and 24h0m0s, got 300ns"},
		{func(c *Config) { c.DataTimeout = 25 * time.Hour }, "data_timeout: must be between 1s and 24h0m0s, got 25h0m0s"},
		{func(c *Config) { c.ReadTimeout = time.Second }, "<nil>"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.set(&c)
		if got := fmt.Sprint(c.Validate()); got != tc.want {
			t.Errorf("Validate() = %s\nwant %s", got, tc.want)
		}
	}
	// Every problem is reported, one error each.
	// 11 base keys, dns_timeout (sender verification), 6 port 25
	// defences (ratelimit_config.go).
	if err := (Config{}).Validate(); strings.Count(err.Error(), "\n") != 17 {
		t.Errorf("zero Config: want 18 problems, got\n%v", err)
	}
}
