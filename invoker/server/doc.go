// Package server is the invoker's HTTP endpoint, as a drop-in for OpenWhisk's DefaultInvokerServer
// (docs/protocol.md#http-endpoints), on net/http alone.
//
//	GET|HEAD /ping      open        200 text/plain "pong" (devtools probes it with curl --head --fail)
//	GET      /metrics   open*       Prometheus text from the metrics.Registry (when one is given)
//	POST     /enable    Basic auth  "invoker0 is now enabled." / "invoker0 is already enabled."
//	POST     /disable   Basic auth  "invoker0 is now disabled." / "invoker0 is already disabled."
//	GET      /isEnabled Basic auth  {"enabled":true} ({"isEnabled":true} in FPC mode)
//	GET      /pool      Basic auth  FPC mode only (the Switch is a PoolReporter): containers per state, JSON
//	GET      /pool/count Basic auth FPC mode only: busy + paused + in progress, one integer
//
// With Config.CORS (OpenWhisk's FPCInvokerServer) every answer but the open routes' carries
// Access-Control-Allow-Origin "*", -Headers and -Methods (OPTIONS, GET, POST), and OPTIONS on any path gets
// 200 "OK" without credentials (cors.go).
//
// (*) behind the credentials too with Config.ProtectMetrics. At most Config.MaxConnections connections are
// served at once (64): a flood waits in the listen backlog instead of taking every core.
//
// Anything the open routes do not take goes through the credentials check, as in 2022+ OpenWhisk: missing
// or wrong credentials get 401 with OpenWhisk's ErrorResponse JSON {"error": "...", "code": "<transid>"};
// valid ones get 404 for an unknown path and 405 (with Allow) for a known path and a wrong method. Every
// response carries X-Request-ID: the caller's, when it is a sane token, else a fresh 32-character
// [A-Za-z0-9] transid. The 401 texts are Akka HTTP's; OpenWhisk's exact strings were not verified.
//
// It owns the HTTP surface only. The state it reports and changes lives behind the small Switch interface
// (the invoker's feed and pinger); it must not reach into Kafka, the pool or the store itself, and it does
// not read configuration: the caller passes Config (credentials, timeouts). ListenAndServe/Serve bound
// reads and writes and shut down gracefully when their ctx is done; Enable/Disable calls get a deadline.
package server
