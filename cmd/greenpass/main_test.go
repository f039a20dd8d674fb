package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseFlagsInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		x    string
		rest string
	}{
		{[]string{"a", "--x", "1", "b"}, "1", "a b"},
		{[]string{"--x", "2", "a"}, "2", "a"},
		{[]string{"a", "--", "--x", "3"}, "", "a --x 3"},
		{[]string{"-", "--x=4"}, "4", "-"},
		{nil, "", ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		x := fs.String("x", "", "")
		if code, ok := parseFlags(fs, tc.args, io.Discard, ""); !ok || code != exitOK {
			t.Fatalf("%v: code %d", tc.args, code)
		}
		if *x != tc.x || strings.Join(fs.Args(), " ") != tc.rest {
			t.Errorf("%v: x=%q args=%q, want %q %q", tc.args, *x, fs.Args(), tc.x, tc.rest)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if code, ok := parseFlags(fs, []string{"a", "--nope"}, io.Discard, ""); ok || code != exitUsage {
		t.Fatalf("unknown flag after an argument: %d %v", code, ok)
	}
}

func TestGCPercent(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, c := range []struct {
		args []string
		env  map[string]string
		want int
		ok   bool
	}{
		{[]string{"verify", "a.png"}, nil, 200, true},
		{[]string{"verify"}, map[string]string{"GOGC": "100"}, 0, false}, // the user's choice stands
		{[]string{"serve"}, nil, 0, false},
		{nil, nil, 0, false},
	} {
		got, ok := gcPercent(c.args, env(c.env))
		if got != c.want || ok != c.ok {
			t.Errorf("gcPercent(%q, %v) = %d, %v; want %d, %v", c.args, c.env, got, ok, c.want, c.ok)
		}
	}
}
