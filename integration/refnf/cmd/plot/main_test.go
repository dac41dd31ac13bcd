package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nemo-edge/nemo/scheduler/sim/chart"
)

const sample = `rep,series,mode,size,burst,train,offered_pps,gen_pps,nf_pps,packets,kernel_drops,nf_cpu_util,cpu_ns_per_pkt,user_ns_per_pkt,sys_ns_per_pkt,pkts_per_wakeup,recv_calls_per_pkt,window_s,loadavg1
0,idle,firewall,0,1,0,0,0,0,0,0,0.0100,,,,,,1.0,1
0,fixed-pps,firewall,64,1,1,1000,1000,1000,1000,0,0.1000,10000,1,1,1.000,1.000,1.0,1
1,fixed-pps,firewall,64,1,1,1000,1000,1000,1000,0,0.3000,30000,1,1,1.000,1.000,1.0,1
2,fixed-pps,firewall,64,1,1,1000,1000,1000,1000,0,0.2000,20000,1,1,1.000,1.000,1.0,1
0,fixed-pps,firewall,64,32,1,1000,1000,1000,1000,0,0.0500,5000,1,1,4.000,0.250,1.0,1
0,bitrate,firewall,64,1,1,9000,5000,5000,5000,0,0.5000,10000,1,1,1.000,1.000,1.0,1
0,bitrate,firewall,64,32,1,9000,5000,5000,5000,0,0.4000,8000,1,1,3.000,0.330,1.0,1
0,train,firewall,1500,1,16,1000,1000,1000,1000,0,0.0800,8000,1,1,1.000,1.000,1.0,1
0,train,firewall,1500,32,16,1000,1000,1000,1000,0,0.0400,4000,1,1,8.000,0.125,1.0,1
`

func TestAggregateTakesMedianOverReps(t *testing.T) {
	rows, err := readRows(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	pts := aggregate(rows)
	p := pts[key{"fixed-pps", "firewall", 64, 1, 1}]
	if p == nil || p.N != 3 || p.CPUPerPkt != (chart.Value{Mid: 20000, Lo: 10000, Hi: 30000}) ||
		p.Util != (chart.Value{Mid: 0.2, Lo: 0.1, Hi: 0.3}) {
		t.Fatalf("point %+v, want median and range of 3 reps: 20000 ns in 10000–30000, 0.2 in 0.1–0.3", p)
	}
	var md bytes.Buffer
	if err := writeMarkdown(&md, pts); err != nil {
		t.Fatal(err)
	}
	// fixed-pps firewall 64: off 20.0 µs, on 5.0 µs, ratio 0.25, 4 pkts per wake-up.
	if !strings.Contains(md.String(), "| firewall | 64 | 1000 | 1000 / 1000 | 20.0 | 5.0 | 20.0 | 5.0 | 0.25 | 4.0 |") {
		t.Fatalf("markdown lacks the fixed-pps row:\n%s", md.String())
	}
	if !strings.Contains(md.String(), "firewall burst 1: 1.00%") {
		t.Fatalf("markdown lacks the idle line:\n%s", md.String())
	}
}

func TestRunWritesBothPNGs(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(csvPath, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"-csv", csvPath, "-img", dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nf-burst.png", "nf-burst-train.png"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Fatalf("%s: err %v, not a PNG", name, err)
		}
	}
}

func TestRunWritesSVGOnAskAndRejectsUnknownFormats(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(csvPath, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-csv", csvPath, "-img", dir, "-ext", "svg"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nf-burst.svg", "nf-burst-train.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Contains(b, []byte("<svg")) {
			t.Fatalf("%s: err %v, not an SVG", name, err)
		}
	}
	err := run([]string{"-csv", csvPath, "-img", dir, "-ext", "gif"}, &bytes.Buffer{})
	if !errors.Is(err, chart.ErrInvalid) {
		t.Fatalf("-ext gif: %v, want an unknown-format error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nf-burst.gif")); !os.IsNotExist(err) {
		t.Fatal("-ext gif wrote a file")
	}
}

// The figures plot the median of the repetitions with their range.
func TestFiguresCarryMedianAndRange(t *testing.T) {
	rows, err := readRows(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	pts := aggregate(rows)
	f := sweeps(pts)
	if len(f.Panels) != 2 { // bitrate and fixed-pps rows, one NF column
		t.Fatalf("%d panels, want 2", len(f.Panels))
	}
	perPkt := f.Panels[1].(chart.Lines)
	if perPkt.Series[0].Name != "burst 1 (off)" || perPkt.Series[0].Values[0] != (chart.Value{Mid: 20, Lo: 10, Hi: 30}) {
		t.Fatalf("fixed-pps burst off at 64 B: %+v, want 20 µs in 10–30", perPkt.Series[0])
	}
	if !strings.Contains(perPkt.Title, "1000 frames/s") || !strings.Contains(f.Panels[0].(chart.Lines).Title, "5 Mbit/s") { // 9000 × 64 B × 8
		t.Fatalf("titles %q / %q do not name the offered rate", perPkt.Title, f.Panels[0].(chart.Lines).Title)
	}
	idle := idleShare(pts).Panels[0].(chart.Bars)
	if len(idle.Groups) != 1 || idle.Groups[0] != "firewall 1500 B" {
		t.Fatalf("idle groups %v", idle.Groups)
	}
	// trains of 16, burst off: NF CPU 8 % → idle 92 %; smooth 1500 B was not measured.
	if v := idle.Series[2].Values[0]; v != chart.Exact(92) {
		t.Fatalf("idle share with trains, burst off: %+v, want 92", v)
	}
	if !idle.Series[0].Values[0].Missing() {
		t.Fatalf("an unmeasured point plotted as %+v", idle.Series[0].Values[0])
	}
}

func TestReadRowsRejectsBadCSV(t *testing.T) {
	if _, err := readRows(strings.NewReader("series,mode\n")); !errors.Is(err, errNoRows) {
		t.Errorf("header only: %v", err)
	}
	if _, err := readRows(strings.NewReader("a,b\n1,2\n")); err == nil || !strings.Contains(err.Error(), "lacks column") {
		t.Errorf("missing columns: %v", err)
	}
}
