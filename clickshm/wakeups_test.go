package clickshm

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Test equipment for the Click integration tests: parses strace output of
// Click's driver loop into packets read per wake-up.

var (
	straceResult = regexp.MustCompile(`= (-?\d+)`)
	strPollLine  = regexp.MustCompile(`^(\d+ +)?p?poll\(`)
	strRecvLine  = regexp.MustCompile(`^(\d+ +)?recvfrom\(.*MSG_TRUNC.*AF_PACKET`)
)

func parseWakeups(trace string) map[int]int {
	hist := map[int]int{}
	n, inWakeup := 0, false
	for _, line := range strings.Split(trace, "\n") {
		switch {
		case strPollLine.MatchString(line):
			if inWakeup && n > 0 {
				hist[n]++
			}
			n, inWakeup = 0, true
		case strRecvLine.MatchString(line):
			m := straceResult.FindStringSubmatch(line[strings.LastIndex(line, ")"):])
			if m != nil {
				if v, _ := strconv.Atoi(m[1]); v > 0 {
					n++
				}
			}
		}
	}
	return hist // the group after the last poll is cut off by the detach: not counted
}

func TestParseWakeups(t *testing.T) {
	trace := `recvfrom(3, ""..., 2046, MSG_TRUNC, {sa_family=AF_PACKET, sll_pkttype=PACKET_HOST}, [20]) = 74
poll([...], 3, -1)                      = 1 ([...])
recvfrom(3, ""..., 2046, MSG_TRUNC, {sa_family=AF_PACKET, sll_pkttype=PACKET_HOST}, [20]) = 74
recvfrom(3, ""..., 2046, MSG_TRUNC, {sa_family=AF_PACKET, sll_pkttype=PACKET_OUTGOING}, [20]) = 74
poll([...], 3, 4)                       = 0 (Timeout)
poll([...], 3, -1)                      = 1 ([...])
recvfrom(3, ""..., 2046, MSG_TRUNC, {sa_family=AF_PACKET}, [20]) = 74
recvfrom(3, 0x5555, 2046, MSG_TRUNC, 0x7ffe, [20]) = -1 EAGAIN (Resource temporarily unavailable)
poll([...], 3, -1)                      = 1 ([...])
recvfrom(3, ""..., 2046, MSG_TRUNC, {sa_family=AF_PACKET}, [20]) = 74
`
	assert.Equal(t, map[int]int{2: 1, 1: 1}, parseWakeups(trace))
}
