package itest

import (
	"strconv"
	"strings"
)

// ParseMetrics reads the samples of a Prometheus text exposition ("name{labels} value") into a map keyed
// by "name{labels}". Comment and empty lines are skipped; sample lines whose value is missing or not a
// number are returned in malformed.
func ParseMetrics(body string) (samples map[string]float64, malformed []string) {
	samples = map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			malformed = append(malformed, l)
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			malformed = append(malformed, l)
			continue
		}
		samples[l[:i]] = v
	}
	return samples, malformed
}
