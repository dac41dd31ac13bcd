package papereval

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPublicCommand(t *testing.T) {
	got := PublicCommand(strings.Fields("papereval run -nfs firewall -head-gap 60s -couchdb http://nemo:secret@127.0.0.1:5984 " +
		"-csv /somewhere/docs/paper-eval.csv -workdir /scratch/w -nemo /b/nemo -refnf=/b/refnf -trafficgen /b/tg -allow-long -budget 14m"))
	require.Equal(t, "papereval run -nfs firewall -head-gap 60s -couchdb http://127.0.0.1:5984 -csv paper-eval.csv -allow-long -budget 14m", got)
}

// The coverage section counts what a partial result holds against the full plan and names the commands
// of the missing parts.
func TestCoverageNamesMissingParts(t *testing.T) {
	var rows []Row
	for _, r := range synthetic() {
		if r["kind"] == RowMeta || r["kind"] == RowCalibrate || r["run_kind"] == KindNFAlone {
			rows = append(rows, r)
		}
	}
	rows = append(rows, Row{"kind": RowMeta, "key": "command", "value": "papereval run -nemo /x/nemo -csv /y/r.csv"})
	md, err := Report(rows, ReportOptions{ImgDir: t.TempDir(), ImgRel: "img", CSVName: "x.csv"})
	require.NoError(t, err)
	require.Contains(t, md, "## What ran, and what did not")
	require.Contains(t, md, "| controlled | ")
	require.Contains(t, md, "`HEAD_GAP=30s scripts/paper-eval.sh --only controlled`")
	require.Contains(t, md, "papereval run -csv r.csv")
	require.NotContains(t, md, "/x/nemo")
	require.Contains(t, md, "- NF nat, lb: ")
	require.Contains(t, md, "Repetitions: 2 of 3")
}
