package proxy

import (
	"bytes"
	"testing"
)

// The fuzz targets prove logs_fast.go against the reference (encoding/json, fmt). Their committed seed
// corpora are in testdata/fuzz/<target>; run one further with e.g.
//
//	go test -run NONE -fuzz FuzzFastParseDockerLogLine -fuzztime 60s ./pool/proxy/

// FuzzFastParseDockerLogLine: ParseDockerLogLine returns what the reference parser returns (line and error)
// for every input, and the fast parser, when it accepts an input, agrees with it.
func FuzzFastParseDockerLogLine(f *testing.F) {
	for _, l := range dockerSample {
		f.Add([]byte(l))
	}
	for _, l := range []string{
		`{"log":"a \u003cb\u003e \u0026 \"q\" \\ \/ \b\f\n\r\t","stream":"stdout","time":"2024-06-01T10:15:20.649123456Z"}`,
		`{"log":"pair \ud83d\ude00 lone \ud800 x \udc00 \ud800\u0041","stream":"stderr","time":"t"}`,
		`{"log":"bad ` + "\xff\xc3" + ` utf8 é","stream":"std` + "\xe9" + `","time":"t"}`,
		` { "time" : "t" , "stream" : "stdout" , "log" : "spaced\n" } `,
		`{"log":"x","stream":"stdout","time":"t","attrs":{"tag":"a"}}`,
		`{"Log":"case","stream":"stdout","time":"t"}`,
		`{"log":"a","log":null,"stream":"stdout","time":"t"}`,
		`{"log":1,"stream":"stdout","time":"t"}`,
		`{"l\u006fg":"esc key","stream":"stdout","time":"t"}`,
		`{"log":"x","stream":"stdout"}`,
		`{"log":"x\n","stream":"stdout","time":"t"`,
		`[]`,
	} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		want, wantErr := parseDockerLogLineReference(line)
		if fast, ok := parseDockerLogLineFast(bytes.TrimSpace(line)); ok && (wantErr != nil || fast != want) {
			t.Fatalf("fast parser gives %#v, the reference %#v (%v)", fast, want, wantErr)
		}
		got, err := ParseDockerLogLine(line)
		if got != want || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("ParseDockerLogLine = %#v (%v), the reference %#v (%v)", got, err, want, wantErr)
		}
	})
}

func FuzzFastFormatLogLine(f *testing.F) {
	f.Add("2024-06-01T10:15:20.649123456Z", "stdout", "hello World\n")
	f.Add("2024-06-01T10:26:43.117482Z", "stderr", "x\r\n")
	f.Add("tïmé 日本", "std\xff", "a\f")
	f.Add("", "", "")
	f.Add("0123456789012345678901234567890123", "stdout", "\n\n")
	f.Fuzz(func(t *testing.T, ts, stream, msg string) {
		if got, want := FormatLogLine(ts, stream, msg), formatLogLineReference(ts, stream, msg); got != want {
			t.Fatalf("FormatLogLine = %q, fmt gives %q", got, want)
		}
	})
}

// The fast parser must take docker's lines, not leave them all to the reference parser.
func TestFastParserTakesDockerLines(t *testing.T) {
	for _, l := range dockerSample {
		if _, ok := parseDockerLogLineFast([]byte(l)); !ok {
			t.Errorf("the fast parser leaves %s to the reference parser", l)
		}
	}
}

// dockerSample is what docker's json-file driver writes for an activation: an action line with its escaped
// newline, HTML characters as docker escapes them, and the two sentinels.
var dockerSample = []string{
	`{"log":"hello World\n","stream":"stdout","time":"2024-06-01T10:15:20.649123456Z"}`,
	`{"log":"\u003cdiv\u003e \u0026 \"quoted\"\ttab\n","stream":"stderr","time":"2024-06-01T10:15:20.649170238Z"}`,
	`{"log":"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n","stream":"stdout","time":"2024-06-01T10:15:20.649201003Z"}`,
	`{"log":"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n","stream":"stderr","time":"2024-06-01T10:15:20.649230117Z"}`,
}
