package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"postern/smtpd/queue"
)

const dkimUsage = `usage: postern dkim keygen DOMAIN [-selector S] [-algo rsa|ed25519] [-data DIR | -config FILE]

Writes <data>/dkim/DOMAIN/S.key (PEM, mode 0600) and prints the TXT record
to publish. Outgoing mail whose From domain is DOMAIN is signed with every
key in that directory (RSA first; add an ed25519 key for a second
signature).`

// runDKIM is "postern dkim keygen".
func runDKIM(env *cmdEnv, args []string) int {
	if len(args) == 0 || args[0] != "keygen" {
		fmt.Fprintln(env.stderr, dkimUsage)
		return 2
	}
	var selector, algo *string
	data, pos, code := dataDirArgs(env, "dkim keygen", args[1:], func(fs *flag.FlagSet) {
		selector = fs.String("selector", "p"+time.Now().UTC().Format("200601"), "DKIM selector (a DNS label)")
		algo = fs.String("algo", "rsa", "key type: rsa (2048 bits) or ed25519")
	})
	if code != 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.stderr, dkimUsage)
		return 2
	}
	path, name, txt, err := queue.GenerateDKIMKey(data, pos[0], *selector, *algo)
	if err != nil {
		fmt.Fprintln(env.stderr, "postern dkim keygen:", err)
		return 1
	}
	chownLikeDataDir(data, filepath.Join(data, "dkim"))
	fmt.Fprintf(env.stdout, "; key written to %s\n", path)
	fmt.Fprintf(env.stdout, "; publish this TXT record (strings of at most 255 bytes; most DNS\n; providers join them, some want the value as one string):\n")
	fmt.Fprintf(env.stdout, "%s. IN TXT ( %s )\n", name, queue.QuoteTXT(txt))
	return 0
}

// chownLikeDataDir gives everything under dir the owner of the data
// directory, so a server that dropped privileges can read keys created by
// root. Errors are ignored: when not root, files are already ours.
func chownLikeDataDir(data, dir string) {
	st, err := os.Stat(data)
	if err != nil {
		return
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, int(sys.Uid), int(sys.Gid))
		}
		return nil
	})
}
