package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"postern/imapd"
	"postern/pop3d"
)

// configProblem is one thing wrong with a configuration file, with the
// line of the key it is about (0 when the key is not in the file, e.g. a
// required key left out). A warning (an old key name) does not make the
// file invalid.
type configProblem struct {
	File    string
	Line    int
	Key     string
	Msg     string
	Warning bool
}

func (p configProblem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
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
	cfg, _, err := readConfig(path)
	return cfg, err
}

// readConfig is loadConfig that also returns the warnings (old key names
// that still work), for "postern check" and "postern serve" to show.
func readConfig(path string) (Config, configErrors, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(path, data)
}

// renamedKeys lists, per section, the key names of earlier versions that
// are still accepted and the keys that replaced them.
func renamedKeys() map[string]map[string]string {
	return map[string]map[string]string{"imap": imapd.RenamedKeys(), "pop3": pop3d.RenamedKeys()}
}

// parseConfig is readConfig on file contents already read; name is used
// in messages.
func parseConfig(name string, data []byte) (Config, configErrors, error) {
	cfg := defaultConfig()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, nil, configErrors{{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}}
		}
		// Type mismatches already carry "line N (last key ...)".
		return Config{}, nil, configErrors{{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}}
	}
	lines := keyLines(data)
	var probs, warns configErrors
	// oldName maps a key set under its old name to that name, so that
	// a problem with its value points at the line that sets it.
	oldName := map[string]string{}
	for _, k := range md.Undecoded() {
		key := k.String()
		p := configProblem{File: name, Line: lines.find(key), Key: key}
		newName, renamed := "", false
		if len(k) == 2 {
			newName, renamed = renamedKeys()[k[0]][k[1]]
		}
		switch {
		case !renamed:
			p.Msg = "unknown key"
			probs = append(probs, p)
		case md.IsDefined(k[0], newName):
			p.Msg = fmt.Sprintf("old name of %s.%s, which is also set; keep only %s.%s", k[0], newName, k[0], newName)
			probs = append(probs, p)
		default:
			if err := decodeRenamed(&cfg, data, k[0], k[1], newName); err != nil {
				p.Msg = err.Error()
				probs = append(probs, p)
				continue
			}
			oldName[k[0]+"."+newName] = key
			p.Msg = fmt.Sprintf("renamed to %s.%s; the old name still works for now", k[0], newName)
			p.Warning = true
			warns = append(warns, p)
		}
	}
	for _, p := range cfg.validate() {
		if old, ok := oldName[p.Key]; ok {
			p.Key = old
		}
		p.File = name
		p.Line = lines.find(p.Key)
		probs = append(probs, p)
	}
	if len(probs) > 0 {
		// In the order of the file; problems with no line last.
		slices.SortStableFunc(probs, func(a, b configProblem) int {
			return cmp.Compare(uint(a.Line-1), uint(b.Line-1)) // line 0 wraps to the end
		})
		return Config{}, warns, probs
	}
	return cfg, warns, nil
}

// decodeRenamed decodes the value of key old in [section] of the file
// into the field of cfg whose TOML key is section.new.
func decodeRenamed(cfg *Config, data []byte, section, old, new string) error {
	var file map[string]toml.Primitive
	md, err := toml.Decode(string(data), &file)
	if err != nil {
		return err
	}
	var table map[string]toml.Primitive
	if err := md.PrimitiveDecode(file[section], &table); err != nil {
		return err
	}
	dst := fieldByKey(fieldByKey(reflect.ValueOf(cfg).Elem(), section), new)
	if !dst.IsValid() {
		return fmt.Errorf("no key %s.%s", section, new)
	}
	return md.PrimitiveDecode(table[old], dst.Addr().Interface())
}

// fieldByKey returns the field of struct v whose toml tag is key (the
// zero Value when there is none).
func fieldByKey(v reflect.Value, key string) reflect.Value {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	// VisibleFields includes the fields of embedded structs (such as
	// connguard.Limits), which TOML flattens into the section.
	for _, f := range reflect.VisibleFields(v.Type()) {
		if !f.Anonymous && strings.Split(f.Tag.Get("toml"), ",")[0] == key {
			return v.FieldByIndex(f.Index)
		}
	}
	return reflect.Value{}
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
