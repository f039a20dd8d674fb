// Command tdcheck scores greenpass's verifier on EU DCC test data
// (dgc-testdata layout: COUNTRY/…/raw/N.json): every EXPECTED* key of every
// vector, with the semantics of the reference test runner. It prints the
// agreement per country and each disagreement, known upstream faults marked.
//
//	go run ./scripts/tdcheck ../shared/testdata/dgc
//
// Exit status 1 when an expectation disagrees that is not a known issue.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/greenpass-dcc/greenpass/internal/tdcheck"
)

type tally struct{ agree, total int }

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: go run ./scripts/tdcheck DIR\n\nScores the verifier on the EU test data under DIR (COUNTRY/…/raw/N.json).")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(flag.Arg(0)))
}

func run(root string) int {
	files, err := tdcheck.Files(root)
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "tdcheck: no vectors under %s (%v)\n", root, err)
		return 2
	}
	perCountry := map[string]*tally{}
	var all tally
	known, unexplained := 0, 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		rel = filepath.ToSlash(rel)
		country, _, _ := strings.Cut(rel, "/")
		vec, err := tdcheck.Load(f)
		if err != nil {
			fmt.Printf("%s: unreadable: %v\n", rel, err)
			unexplained++
			continue
		}
		outcomes, _, err := tdcheck.Run(context.Background(), vec)
		if err != nil {
			fmt.Printf("%s: %v\n", rel, err)
			unexplained++
			continue
		}
		c := perCountry[country]
		if c == nil {
			c = &tally{}
			perCountry[country] = c
		}
		for _, o := range outcomes {
			if o.Skipped != "" {
				continue
			}
			c.total++
			all.total++
			if o.Agrees() {
				c.agree++
				all.agree++
				continue
			}
			if why, ok := tdcheck.KnownIssues[rel+":"+o.Key]; ok {
				known++
				fmt.Printf("%s %s: want %v, got %v — known issue: %s\n", rel, o.Key, o.Want, o.Got, why)
				continue
			}
			unexplained++
			fmt.Printf("%s %s: want %v, got %v — %s\n", rel, o.Key, o.Want, o.Got, firstLine(o.Detail))
		}
	}
	countries := make([]string, 0, len(perCountry))
	for c := range perCountry {
		countries = append(countries, c)
	}
	sort.Strings(countries)
	fmt.Println()
	for _, c := range countries {
		t := perCountry[c]
		fmt.Printf("%-8s %4d/%-4d %5.1f %%\n", c, t.agree, t.total, percent(*t))
	}
	fmt.Printf("\n%d files: %d of %d expectations agree (%.1f %%); %d known upstream issues, %d unexplained\n",
		len(files), all.agree, all.total, percent(all), known, unexplained)
	if unexplained > 0 {
		return 1
	}
	return 0
}

func percent(t tally) float64 {
	if t.total == 0 {
		return 100
	}
	return 100 * float64(t.agree) / float64(t.total)
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
