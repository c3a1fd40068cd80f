package smtpd

import (
	"bytes"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"postern/smtpd/queue"
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
	want.ReadTimeout = queue.Duration(2 * time.Minute)
	want.DataTimeout = queue.Duration(90 * time.Second)
	want.MaxConnectionsPerIP = 5
	if got != want {
		t.Errorf("decoded config\n got %+v\nwant %+v", got, want)
	}
	if (Config{}).withDefaults() != DefaultConfig() {
		t.Error("the zero Config does not take every default")
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	var back Config
	if _, err := toml.Decode(buf.String(), &back); err != nil || back != DefaultConfig() {
		t.Errorf("round trip through TOML:\n%s\ngave %+v, %v", buf.String(), back, err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`read_timeout = "5m0s"`)) {
		t.Errorf("durations are not written as strings:\n%s", buf.String())
	}
}
