//go:build race

package ferrettest

import "testing"

// Start skips the test under the race detector: FerretDB and its pure-Go
// SQLite are the largest build in the module, and instrumenting them
// doubles CI's cold build for no finding of ours. The tests that use it
// run in the plain pass of "make test".
func Start(t testing.TB) string {
	t.Helper()
	t.Skip("FerretDB is not built with -race; this test runs in the plain pass")
	return ""
}
