package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestCostConfig: the command cost keys decode from TOML, take their
// defaults when left out, and Validate names the key of a bad value.
func TestCostConfig(t *testing.T) {
	t.Parallel()
	var cfg Config
	md, err := toml.Decode(`
max_busy_commands_per_user = 3
max_busy_commands = 8
busy_wait = "30s"
max_command_memory = 67108864
max_total_command_memory = 268435456
`, &cfg)
	if err != nil || len(md.Undecoded()) > 0 {
		t.Fatalf("decode: %v, undecoded %v", err, md.Undecoded())
	}
	if cfg.MaxBusyCommandsPerUser != 3 || cfg.MaxBusyCommands != 8 || cfg.BusyWait != 30*time.Second ||
		cfg.MaxCommandMemory != 64<<20 || cfg.MaxTotalCommandMemory != 256<<20 {
		t.Fatalf("decoded %+v", cfg)
	}

	d := (Config{}).withDefaults()
	if d.MaxBusyCommandsPerUser != DefaultMaxBusyCommandsPerUser || d.MaxBusyCommands != 0 || d.BusyWait != DefaultBusyWait ||
		d.MaxCommandMemory != DefaultMaxCommandMemory || d.MaxTotalCommandMemory != DefaultMaxTotalCommandMemory {
		t.Fatalf("defaults %+v", d)
	}
	if big := (Config{MaxCommandMemory: 1 << 30}).withDefaults(); big.MaxTotalCommandMemory != 1<<30 {
		t.Fatalf("total memory under a larger per-command bound: %d", big.MaxTotalCommandMemory)
	}

	for _, tc := range []struct {
		set  func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxBusyCommandsPerUser = 0 }, "max_busy_commands_per_user: must be at least 1, got 0"},
		{func(c *Config) { c.MaxBusyCommands = -1 }, "max_busy_commands: must be at least 0 (0: twice the CPUs), got -1"},
		{func(c *Config) { c.BusyWait = 0 }, "busy_wait: must be between 1s and 24h0m0s, got 0s"},
		{func(c *Config) { c.MaxCommandMemory = 1000 }, fmt.Sprintf("max_command_memory: must be at least %d, got 1000", MinCommandMemory)},
		{func(c *Config) { c.MaxTotalCommandMemory = DefaultMaxCommandMemory - 1 },
			fmt.Sprintf("max_total_command_memory: must be at least max_command_memory (%d), got %d", DefaultMaxCommandMemory, DefaultMaxCommandMemory-1)},
	} {
		c := DefaultConfig()
		tc.set(&c)
		if got := fmt.Sprint(c.Validate()); !strings.Contains(got, tc.want) {
			t.Errorf("Validate() = %s\nwant %s", got, tc.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// TestBusyGateDefaultSize: max_busy_commands 0 means twice GOMAXPROCS.
func TestBusyGateDefaultSize(t *testing.T) {
	t.Parallel()
	g := newBusyGate(2, 0)
	if g.all.size < 2 || g.all.size%2 != 0 {
		t.Fatalf("server-wide slots %d", g.all.size)
	}
}
