package imapd

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestConfigTOML: every [imap] key of docs/imap.md decodes, durations
// as strings.
func TestConfigTOML(t *testing.T) {
	doc := `
idle_keepalive = "3m"
idle_timeout = "45m"
command_timeout = "90s"
append_limit = 1048576
max_conns_per_user_ip = 80
max_conns = 500
`
	var cfg Config
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	want := Config{IdleKeepalive: 3 * time.Minute, IdleTimeout: 45 * time.Minute, CommandTimeout: 90 * time.Second,
		AppendLimit: 1 << 20, MaxConnsPerUserIP: 80, MaxConns: 500}
	if cfg != want {
		t.Fatalf("decoded %+v, want %+v", cfg, want)
	}
}
