// Package lazyre compiles a package's regular expressions on first use
// instead of at program start: every subcommand of the one binary starts
// every package, and `greenpass verify` paid for the business rules' and
// the wallet's expressions (about a millisecond) on every run.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr the first time it is called
// (panicking, as regexp.MustCompile does, on an invalid expression) and
// returns the same *regexp.Regexp on every call, from any goroutine.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
