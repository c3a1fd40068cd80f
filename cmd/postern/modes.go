package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// The permission modes docs/install.md ("File modes") promises for what
// lives in data_dir. At every start (serve and dev) Postern removes any
// permission bit beyond them; it never adds one, so an operator's
// stricter mode stays.
const (
	// dataDirMode: data_dir itself (install -d -m 750).
	dataDirMode os.FileMode = 0o750
	// mailDirMode: <data_dir>/mail when Postern creates it (the store
	// makes everything below 0700/0600 itself, and it is not walked at
	// start: it may hold millions of files).
	mailDirMode os.FileMode = 0o750
	// privateDirMode: accounts/, dkim/, queue/, certs/ and every
	// directory below them.
	privateDirMode os.FileMode = 0o700
	// secretFileMode: the users file (password hashes) and any other
	// file in accounts/ but aliases and domains, DKIM keys, queued mail
	// and envelopes, TLS private keys.
	secretFileMode os.FileMode = 0o600
	// listFileMode: accounts/aliases and accounts/domains (no secrets).
	listFileMode os.FileMode = 0o640
)

// modeTree is a subtree of data_dir whose directories get privateDirMode
// and whose files get the mode file returns for their name (0: the file
// is left as it is).
type modeTree struct {
	dir  string
	file func(name string) os.FileMode
}

// modeTrees are the subtrees tightened at start.
var modeTrees = []modeTree{
	{"accounts", func(name string) os.FileMode {
		if name == "aliases" || name == "domains" {
			return listFileMode
		}
		return secretFileMode // users, lock, an operator's users.bak ...
	}},
	{"dkim", func(string) os.FileMode { return secretFileMode }},
	{"queue", func(string) os.FileMode { return secretFileMode }},
	{"certs", func(name string) os.FileMode {
		// Private keys: certmagic's <name>.key (certificates and ACME
		// account), the self-signed key.pem. Certificates are public.
		if strings.HasSuffix(name, ".key") || name == "key.pem" {
			return secretFileMode
		}
		return 0
	}},
}

// prepareDataDir creates data_dir, its mail/ and accounts/ directories if
// missing, and tightens the modes of data_dir and of everything in
// modeTrees (see tightenModes).
func prepareDataDir(dataDir string, tlsCfg TLSConfig, log *slog.Logger) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{dataDir, dataDirMode}, {filepath.Join(dataDir, "mail"), mailDirMode}, {filepath.Join(dataDir, "accounts"), privateDirMode}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
	}
	tightenModes(dataDir, tlsCfg, log)
	return nil
}

// tightenModes removes permission bits beyond the promised modes from
// data_dir and the trees of modeTrees, logging each change at INFO. A
// change that fails (a file owned by someone else) is a warning, not a
// reason not to start. Symbolic links are not followed. In files mode, a
// key file anyone may read is a warning (it is the operator's file,
// outside data_dir, and left as it is).
func tightenModes(dataDir string, tlsCfg TLSConfig, log *slog.Logger) {
	tighten(dataDir, dataDirMode, log)
	for _, t := range modeTrees {
		root := filepath.Join(dataDir, t.dir)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && os.IsNotExist(err) {
					return nil
				}
				log.Warn("cannot check permissions", "path", p, "err", err)
				return nil
			}
			switch {
			case d.IsDir():
				tighten(p, privateDirMode, log)
			case d.Type().IsRegular():
				if m := t.file(d.Name()); m != 0 {
					tighten(p, m, log)
				}
			}
			return nil
		})
		if err != nil {
			log.Warn("cannot check permissions", "path", root, "err", err)
		}
	}
	if tlsCfg.Mode == "files" && tlsCfg.Key != "" {
		if fi, err := os.Stat(tlsCfg.Key); err == nil && fi.Mode().Perm()&0o004 != 0 {
			log.Warn("TLS key file is readable by every user; make it 0600 or 0640", "path", tlsCfg.Key,
				"mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
		}
	}
}

// tighten clears the permission bits of path beyond limit (not following
// a symbolic link).
func tighten(path string, limit os.FileMode, log *slog.Logger) {
	fi, err := os.Lstat(path)
	if err != nil {
		if !os.IsNotExist(err) {
			log.Warn("cannot check permissions", "path", path, "err", err)
		}
		return
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return
	}
	old := fi.Mode().Perm()
	perm := old & limit
	if perm == old {
		return
	}
	// Keep setgid and sticky bits (an operator's group inheritance).
	mode := perm | fi.Mode()&(fs.ModeSetgid|fs.ModeSticky)
	if err := os.Chmod(path, mode); err != nil {
		log.Warn("cannot tighten permissions", "path", path, "old", fmt.Sprintf("%#o", old),
			"new", fmt.Sprintf("%#o", perm), "err", err)
		return
	}
	log.Info("tightened permissions", "path", path, "old", fmt.Sprintf("%#o", old), "new", fmt.Sprintf("%#o", perm))
}
