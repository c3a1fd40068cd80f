package pop3d

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"
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
		Household:      true,
		IdleTimeout:    12 * time.Minute,
		LoginTimeout:   DefaultLoginTimeout,
		MaxErrors:      4,
		MaxConnections: DefaultMaxConnections,
	}
	if got != want {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if DefaultConfig() != (Config{}).withDefaults() {
		t.Fatalf("DefaultConfig %+v differs from the zero Config's defaults", DefaultConfig())
	}
}
