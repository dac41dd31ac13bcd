// Command testrun filters `go test -json` for the test command (see package testrun): it prints one line per
// package, the output of failed tests and the list of skipped tests, and exits 1 when a test failed, a
// package did not build or a test skipped without an entry in the allow-list.
//
//	go test -json ./... | testrun -label unit -allow scripts/test-skips.txt
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nemo-edge/nemo/integration/testrun"
)

const module = "github.com/nemo-edge/nemo"

func main() {
	os.Exit(run())
}

func run() int {
	label := flag.String("label", "go test", "name of this run in the summary")
	allowPath := flag.String("allow", "", "allow-list of skips (required)")
	flag.Parse()
	if *allowPath == "" {
		fmt.Fprintln(os.Stderr, "testrun: -allow is required")
		return 2
	}
	f, err := os.Open(*allowPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testrun:", err)
		return 2
	}
	allow, err := testrun.ParseAllowList(f, module)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	res, err := testrun.Read(os.Stdin, func(l string) { fmt.Println(l) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, b := range res.BuildErrors {
		fmt.Println(b)
	}
	for i, name := range res.Failed {
		fmt.Printf("---- %s failed:\n%s\n", name, strings.TrimRight(res.Failures[i], "\n"))
	}

	allowed, why, unexpected, _ := testrun.Check(res.Skips, allow)
	fmt.Printf("[%s] skipped tests: %d (%d allow-listed in %s, %d not)\n", *label, len(res.Skips), len(allowed),
		*allowPath, len(unexpected))
	for i, s := range allowed {
		fmt.Printf("  skip (allowed: %s)\n    %s\n", why[i], s)
	}
	for _, s := range unexpected {
		fmt.Printf("  SKIP NOT ALLOWED\n    %s\n", s)
	}
	code := 0
	if !res.OK() {
		fmt.Printf("[%s] FAIL: %d failed, %d build errors\n", *label, len(res.Failed), len(res.BuildErrors))
		code = 1
	}
	if len(unexpected) > 0 {
		fmt.Printf("[%s] FAIL: %d tests skipped without an allow-list entry in %s: make them run here, or add an "+
			"entry saying why this machine cannot run them\n", *label, len(unexpected), *allowPath)
		code = 1
	}
	if code == 0 {
		fmt.Printf("[%s] ok: %d packages\n", *label, len(res.Packages))
	}
	return code
}
