// Command testaction is an actionloop action for tests: it reads one JSON request per line on stdin and writes
// one JSON result per line on file descriptor 3. Behaviour is chosen by the request's "value" parameters:
//
//	name            greet: {"greeting":"Hello <name>!"} (default "stranger")
//	echo: true      return value unchanged (an array value is always echoed)
//	error: "msg"    return {"error":"msg"} (an application error)
//	sleep_ms: N     sleep N ms before answering
//	spin_ms: N      keep one CPU busy for N ms (after any sleep) before answering
//	log_lines: N    print N lines to stdout and N to stderr first; log_line_bytes: B pads each line to B bytes
//	alloc_mb: N     allocate and touch N MB and keep it (OOM tests)
//	exit: C         exit with code C without answering (a crash)
//	non_json: true  answer a line that is not JSON
//	scalar: true    answer 42 (JSON, but neither object nor array)
//	output_bytes: N answer {"data":"xxx…"} with N bytes of data
//	connect: [..]   try a TCP connection to each "host:port" (2 s each); answer {"connect":{addr: "connected"|error}}
//	post: [..]      POST each URL with the invoker's default credentials (2 s each); answer {"post":{url: status|error}}
//	write_file: P   try to create file P; answer {"write_file": "ok"|error}
//	whoami: true    answer {"uid": N, "gid": N}
//
// Every normal result also carries "runs" (how many requests this process served: warm reuse is visible),
// "activation_id" (from the request, exported as __OW_ACTIVATION_ID) and "env_FOO" (init env FOO).
// At start, TESTACTION_INIT (from the /init env) selects: "fail" exits 3 before the ack, "hang" never acks,
// "slow:N" acks after N ms. The ack ({"ok":true} on fd 3) is sent when __OW_WAIT_FOR_ACK is set.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

type params struct {
	Name         *string  `json:"name"`
	Echo         bool     `json:"echo"`
	Error        string   `json:"error"`
	SleepMs      int      `json:"sleep_ms"`
	SpinMs       int      `json:"spin_ms"`
	LogLines     int      `json:"log_lines"`
	LogLineBytes int      `json:"log_line_bytes"`
	AllocMB      int      `json:"alloc_mb"`
	Exit         *int     `json:"exit"`
	NonJSON      bool     `json:"non_json"`
	Scalar       bool     `json:"scalar"`
	OutputBytes  int      `json:"output_bytes"`
	Connect      []string `json:"connect"`
	Post         []string `json:"post"`
	WriteFile    string   `json:"write_file"`
	Whoami       bool     `json:"whoami"`
}

var hoard [][]byte // allocations kept alive

func main() {
	out := os.NewFile(3, "results")
	if out == nil {
		fmt.Fprintln(os.Stderr, "testaction: fd 3 is not open")
		os.Exit(2)
	}
	startup(os.Getenv("TESTACTION_INIT"))
	if os.Getenv("__OW_WAIT_FOR_ACK") != "" {
		fmt.Fprintln(out, `{"ok":true}`)
	}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	runs := 0
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			runs++
			res := handle(line, runs)
			res = append(res, '\n')
			if _, werr := out.Write(res); werr != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			return
		}
	}
}

func startup(mode string) {
	switch {
	case mode == "fail":
		fmt.Fprintln(os.Stderr, "testaction: failing at init as requested")
		os.Exit(3)
	case mode == "hang":
		fmt.Println("testaction: hanging at init as requested")
		for {
			time.Sleep(time.Hour)
		}
	case strings.HasPrefix(mode, "slow:"):
		ms, _ := strconv.Atoi(strings.TrimPrefix(mode, "slow:"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
}

func handle(line []byte, runs int) []byte {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(line, &req); err != nil {
		return mustJSON(map[string]string{"error": "testaction: bad request line: " + err.Error()})
	}
	for k, v := range req {
		if k == "value" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		_ = os.Setenv("__OW_"+strings.ToUpper(k), s) // only fails for an invalid name, which the key cannot be
	}
	value := req["value"]
	var p params
	_ = json.Unmarshal(value, &p) // arrays and scalars leave p zero

	if p.LogLines > 0 {
		pad := ""
		for i := 0; i < p.LogLines; i++ {
			msg := fmt.Sprintf("log line %d", i)
			if p.LogLineBytes > len(msg) {
				if len(pad) != p.LogLineBytes-len(msg) {
					pad = strings.Repeat(".", p.LogLineBytes-len(msg))
				}
				msg += pad
			}
			fmt.Fprintln(os.Stdout, msg)
			fmt.Fprintln(os.Stderr, msg)
		}
	}
	if p.AllocMB > 0 {
		for i := 0; i < p.AllocMB; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			hoard = append(hoard, b)
		}
	}
	if p.SleepMs > 0 {
		time.Sleep(time.Duration(p.SleepMs) * time.Millisecond)
	}
	if p.SpinMs > 0 {
		spin(time.Duration(p.SpinMs) * time.Millisecond)
	}
	if p.Exit != nil {
		fmt.Fprintf(os.Stderr, "testaction: exiting with %d as requested\n", *p.Exit)
		os.Exit(*p.Exit)
	}
	if len(p.Connect) > 0 || len(p.Post) > 0 || p.WriteFile != "" || p.Whoami {
		return mustJSON(probe(p))
	}
	switch {
	case p.NonJSON:
		return []byte("this is not json")
	case p.Scalar:
		return []byte("42")
	case p.Echo || isArray(value):
		return compact(value)
	case p.Error != "":
		return mustJSON(map[string]string{"error": p.Error})
	case p.OutputBytes > 0:
		return mustJSON(map[string]any{"data": strings.Repeat("x", p.OutputBytes)})
	}
	name := "stranger"
	if p.Name != nil {
		name = *p.Name
	}
	return mustJSON(map[string]any{
		"greeting":      "Hello " + name + "!",
		"runs":          runs,
		"activation_id": os.Getenv("__OW_ACTIVATION_ID"),
		"env_FOO":       os.Getenv("FOO"),
	})
}

// probe tries what an action should not be able to do (isolation tests) and reports each outcome.
func probe(p params) map[string]any {
	out := map[string]any{}
	if len(p.Connect) > 0 {
		res := map[string]string{}
		for _, addr := range p.Connect {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				res[addr] = err.Error()
				continue
			}
			c.Close()
			res[addr] = "connected"
		}
		out["connect"] = res
	}
	if len(p.Post) > 0 {
		res := map[string]string{}
		client := &http.Client{Timeout: 2 * time.Second}
		for _, u := range p.Post {
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
			if err != nil {
				res[u] = err.Error()
				continue
			}
			req.SetBasicAuth("invoker.user", "invoker.pass")
			resp, err := client.Do(req)
			if err != nil {
				res[u] = err.Error()
				continue
			}
			resp.Body.Close()
			res[u] = strconv.Itoa(resp.StatusCode)
		}
		out["post"] = res
	}
	if p.WriteFile != "" {
		if err := os.WriteFile(p.WriteFile, []byte("x"), 0o644); err != nil {
			out["write_file"] = err.Error()
		} else {
			out["write_file"] = "ok"
		}
	}
	if p.Whoami {
		out["uid"], out["gid"] = os.Getuid(), os.Getgid()
	}
	return out
}

func isArray(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return strings.HasPrefix(t, "[")
}

func compact(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return []byte("{}")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return []byte("{}")
	}
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"error":"testaction: cannot encode the result"}`)
	}
	return b
}

// spinSink keeps the busy loop from being optimised away.
var spinSink uint64

// spin keeps the calling goroutine on a CPU until d has passed.
func spin(d time.Duration) {
	deadline := time.Now().Add(d)
	x := spinSink
	for time.Now().Before(deadline) {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	spinSink = x
}
