// Package testrun is TEST EQUIPMENT for the test command (scripts/test.sh, through scripts/gotest.sh): it
// reads the event stream of `go test -json`, prints what plain `go test` would (one line per package, the
// output of every failed test, build errors), lists every skipped test with its message, and checks each
// skip against an allow-list (scripts/test-skips.txt) whose entries each say why this machine cannot run
// the test. A skip that is not allow-listed fails the run, so no test can stop running unnoticed.
//
// It owns the allow-list format and the summary; it runs no test itself and never imports the code under
// test. cmd/testrun is the filter the script pipes `go test -json` into.
package testrun
