package imapd

import (
	"reflect"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"postern/accounts/connguard"
)

// TestConfigTOML: every [imap] key of docs/imap.md decodes, durations
// as strings. (The old names append_limit, max_conns_per_user_ip and
// max_conns are mapped by postern's config loader, see RenamedKeys.)
func TestConfigTOML(t *testing.T) {
	doc := `
idle_keepalive = "3m"
idle_timeout = "45m"
command_timeout = "90s"
max_message_bytes = 1048576
max_connections_per_user_ip = 80
max_connections = 500
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
		MaxMessageBytes: 1 << 20, MaxConnectionsPerUserIP: 80, Limits: connguard.Limits{MaxConnections: 500}}
	if cfg != want {
		t.Fatalf("decoded %+v, want %+v", cfg, want)
	}
}

// TestRenamedKeysNameRealKeys: every old name maps to a key of Config and
// is not itself one.
func TestRenamedKeysNameRealKeys(t *testing.T) {
	keys := map[string]bool{}
	ct := reflect.TypeOf(Config{})
	for _, f := range reflect.VisibleFields(ct) {
		keys[f.Tag.Get("toml")] = true
	}
	for old, new := range RenamedKeys() {
		if keys[old] || !keys[new] {
			t.Errorf("renamed key %s -> %s: old one still a key %v, new one a key %v", old, new, keys[old], keys[new])
		}
	}
}
