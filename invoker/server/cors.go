package server

import "net/http"

// The CORS headers of OpenWhisk's FPC invoker server (its admin routes since 2022-11, tag 2.0.0 on): any
// origin, the listed request headers, and the methods the server answers. DefaultInvokerServer sends none.
const (
	CORSAllowOrigin  = "*"
	CORSAllowHeaders = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
	CORSAllowMethods = "OPTIONS, GET, POST"
)

// corsHeaders adds the three Access-Control-Allow-* headers.
func corsHeaders(h http.Header) {
	h.Set("Access-Control-Allow-Origin", CORSAllowOrigin)
	h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
	h.Set("Access-Control-Allow-Methods", CORSAllowMethods)
}

// preflight answers an OPTIONS request on any path that the open routes did not take: 200 "OK" without
// credentials, as the FPC server does (browsers send preflights without them).
func preflight(w http.ResponseWriter) {
	writeText(w, http.StatusOK, "OK")
}
