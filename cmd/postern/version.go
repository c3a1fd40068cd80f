package main

import (
	"fmt"
	"runtime/debug"
)

func init() {
	register(command{name: "version", summary: "print the version of this binary", run: runVersion})
}

func runVersion(env *cmdEnv, args []string) int {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintln(env.stdout, "postern", v)
	return 0
}
