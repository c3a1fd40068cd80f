package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// dropPrivileges switches a process started as root to the configured
// unprivileged user, after every port is bound: supplementary groups
// cleared, then gid, then uid (on Linux since Go 1.16 this applies to all
// threads). It makes the data directory owned by that user first, so the
// store, accounts and certificates stay writable. Not running as root, it
// does nothing. Running as root with no user configured is refused: the
// mail store must not be handled as root.
func dropPrivileges(name, dataDir string) (string, error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	if name == "" {
		return "", fmt.Errorf("refusing to run the mail store as root: set \"user\" in the config to an unprivileged account")
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", fmt.Errorf("user %q: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("user %q: non-numeric uid/gid %s/%s", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return "", fmt.Errorf("user %q has uid 0: choose an unprivileged account", name)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	if err := chownData(dataDir, uid, gid); err != nil {
		return "", err
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return "", fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("setuid %d: %w", uid, err)
	}
	if os.Geteuid() != uid || os.Getegid() != gid {
		return "", fmt.Errorf("privilege drop to %s did not take effect", name)
	}
	return fmt.Sprintf("%s (uid %d, gid %d)", name, uid, gid), nil
}

// chownData gives the data directory to the unprivileged user: the
// directory itself and its first level, plus the small accounts/, certs/,
// dkim/ and queue/ trees in full (files a root-run "postern user add",
// "postern dkim keygen" or a queue command may have created; the start
// then tightens their modes as their owner). The mail store is not walked:
// it is only ever written by the server, as that user.
func chownData(dataDir string, uid, gid int) error {
	if err := os.Lchown(dataDir, uid, gid); err != nil {
		return fmt.Errorf("chown data_dir: %w", err)
	}
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(dataDir, e.Name())
		if e.Name() == "accounts" || e.Name() == "certs" || e.Name() == "dkim" || e.Name() == "queue" {
			err = filepath.WalkDir(p, func(q string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(q, uid, gid)
			})
		} else {
			err = os.Lchown(p, uid, gid)
		}
		if err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
	}
	return nil
}
