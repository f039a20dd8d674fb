package lazyre

import (
	"sync"
	"testing"
)

// One expression, compiled once, the same for every caller.
func TestNewCompilesOnce(t *testing.T) {
	re := New(`^[A-Z]{2}$`)
	var wg sync.WaitGroup
	got := make([]any, 8)
	for i := range got {
		wg.Go(func() { got[i] = re() })
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] {
			t.Fatal("callers got different expressions")
		}
	}
	if !re().MatchString("AT") || re().MatchString("at") {
		t.Fatal("the expression does not match as written")
	}
}

// An invalid expression panics on first use, as regexp.MustCompile does.
func TestNewPanicsOnFirstUse(t *testing.T) {
	re := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	re()
}
