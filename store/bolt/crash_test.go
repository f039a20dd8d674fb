package bolt

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashChild is the writer of TestEmbeddedSurvivesSIGKILL: run as a
// child process, it writes records from 8 goroutines and prints each ID
// after Insert returned, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("GREENPASS_CRASH_DIR")
	if dir == "" {
		t.Skip("only as the child of TestEmbeddedSurvivesSIGKILL")
	}
	e, err := Open(dir, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", g, i)
				if _, err := e.Insert(context.Background(), "certificates", id, time.Time{}, []byte(`{"n":`+fmt.Sprint(i)+`}`)); err != nil {
					fmt.Println("insert:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Println(id) // acknowledged: the record is durable
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestEmbeddedSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), "GREENPASS_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked []string
	deadline := time.Now().Add(30 * time.Second)
	for len(acked) < 2000 && time.Now().Before(deadline) && sc.Scan() {
		acked = append(acked, sc.Text())
	}
	// Kill mid-stream, then take the acknowledgements still in the pipe.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		acked = append(acked, sc.Text())
	}
	cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("child acknowledged only %d records: %v", len(acked), acked[max(0, len(acked)-3):])
	}

	e, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer e.Close()
	lost := 0
	for _, id := range acked {
		if len(id) == 0 || id[0] != 'w' {
			t.Fatalf("child wrote %q", id)
		}
		if _, err := e.Get(context.Background(), "certificates", id); err != nil {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost", lost, len(acked))
	}
	t.Logf("%d acknowledged records all present after SIGKILL", len(acked))
}
