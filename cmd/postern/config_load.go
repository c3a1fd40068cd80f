package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// configProblem is one thing wrong with a configuration file, with the
// line of the key it is about (0 when the key is not in the file, e.g. a
// required key left out).
type configProblem struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (p configProblem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// configErrors is every problem found in one configuration file.
type configErrors []configProblem

func (e configErrors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// loadConfig reads, decodes and validates the TOML file at path. On any
// problem it returns configErrors listing all of them (a syntax error
// stops at the first, as the rest of the file cannot be trusted).
func loadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(path, data)
}

// parseConfig is loadConfig on file contents already read; name is used
// in messages.
func parseConfig(name string, data []byte) (Config, error) {
	cfg := defaultConfig()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, configErrors{{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}}
		}
		// Type mismatches already carry "line N (last key ...)".
		return Config{}, configErrors{{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}}
	}
	lines := keyLines(data)
	var probs configErrors
	for _, k := range md.Undecoded() {
		key := k.String()
		probs = append(probs, configProblem{File: name, Line: lines.find(key), Key: key, Msg: "unknown key"})
	}
	for _, p := range cfg.validate() {
		p.File = name
		p.Line = lines.find(p.Key)
		probs = append(probs, p)
	}
	if len(probs) > 0 {
		return Config{}, probs
	}
	return cfg, nil
}

// keyLineMap maps dotted keys ("tls.mode") and table names ("tls") to the
// line that defines them.
type keyLineMap map[string]int

// find returns the line of key, or of its nearest enclosing table, or 0.
func (m keyLineMap) find(key string) int {
	for key != "" {
		if l, ok := m[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// keyLines scans a TOML file for table headers and "key =" lines. It is
// only used to point messages at a line, so it handles the plain forms
// a configuration file uses (bare or quoted keys, [table] headers) and
// ignores the rest.
func keyLines(data []byte) keyLineMap {
	m := keyLineMap{}
	table := ""
	inMultiline := false
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if inMultiline {
			if strings.Count(t, `"""`)%2 == 1 || strings.Count(t, `'''`)%2 == 1 {
				inMultiline = false
			}
			continue
		}
		if t == "" || t[0] == '#' {
			continue
		}
		if strings.HasPrefix(t, "[") {
			end := strings.IndexByte(t, ']')
			if end < 0 {
				continue
			}
			table = unquoteKey(strings.Trim(t[:end], "[] "))
			if _, ok := m[table]; !ok {
				m[table] = n
			}
			continue
		}
		eq := strings.IndexByte(t, '=')
		if eq <= 0 {
			continue
		}
		key := unquoteKey(strings.TrimSpace(t[:eq]))
		if table != "" {
			key = table + "." + key
		}
		if _, ok := m[key]; !ok {
			m[key] = n
		}
		rest := t[eq+1:]
		if strings.Count(rest, `"""`)%2 == 1 || strings.Count(rest, `'''`)%2 == 1 {
			inMultiline = true
		}
	}
	return m
}

// unquoteKey turns `a."b c".d` into `a.b c.d` (as toml.Key.String does
// for keys that need no quotes).
func unquoteKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}
