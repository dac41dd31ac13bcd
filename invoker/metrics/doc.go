// Package metrics is a small Prometheus text-format registry shared by the invoker's components.
//
// It owns metric registration and the text exposition served on GET /metrics. It must not know
// what the metrics mean: components register their own counters and gauges and update them.
// A dependency on the Prometheus client library was judged not worth its weight for the dozen
// counters and gauges the invoker exports.
package metrics
