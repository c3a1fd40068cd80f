package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tomlKeys lists the dotted TOML keys of a config struct type.
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(f.Type, prefix)...) // flattened by TOML
			continue
		}
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
			keys = append(keys, tomlKeys(ft, prefix+tag+".")...)
			continue
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

// Every configuration key is documented in docs/config.md (in its
// section's table, as `key`).
func TestEveryConfigKeyIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{"": string(doc)}
	for _, part := range strings.Split(string(doc), "\n## ")[1:] {
		title, body, _ := strings.Cut(part, "\n")
		for _, name := range strings.Fields(strings.NewReplacer("`", " ", "[", " ", "]", " ", ",", " ").Replace(title)) {
			sections[name] = body
		}
	}
	for _, k := range tomlKeys(reflect.TypeOf(Config{}), "") {
		section, leaf := "", k
		if i := strings.IndexByte(k, '.'); i >= 0 {
			section, leaf = k[:i], k[strings.LastIndexByte(k, '.')+1:]
		}
		body, ok := sections[section]
		if !ok {
			t.Errorf("docs/config.md has no section [%s] (for %s)", section, k)
			continue
		}
		if !strings.Contains(body, "`"+leaf+"`") {
			t.Errorf("docs/config.md does not document %s", k)
		}
	}
}
