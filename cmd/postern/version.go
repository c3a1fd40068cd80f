package main

import (
	"fmt"
	"runtime/debug"
)

func runVersion(env *cmdEnv, args []string) int {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintln(env.stdout, "postern", v)
	return 0
}
