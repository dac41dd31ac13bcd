package server

import (
	"net/http"
	"strconv"
)

// PoolReporter is implemented by the Switch of an invoker in FPC mode (OpenWhisk's FPCInvokerServer): it
// adds GET /pool (containers per state, JSON) and GET /pool/count (busy + paused + in progress, one
// integer), both behind Basic auth, and /isEnabled answers {"isEnabled":…} as that server does. Ansible's
// zero-downtime clean-up POSTs /disable and polls /pool/count until it reads 0.
type PoolReporter interface {
	Pool() any
	PoolCount() int
}

func init() {
	routes["/pool"] = route{methods: []string{http.MethodGet}, serve: (*Server).pool}
	routes["/pool/count"] = route{methods: []string{http.MethodGet}, serve: (*Server).poolCount}
}

func (s *Server) pool(w http.ResponseWriter, _ *http.Request, tid string) {
	pr, ok := s.sw.(PoolReporter)
	if !ok {
		writeError(w, http.StatusNotFound, MsgNotFound, tid)
		return
	}
	writeJSON(w, http.StatusOK, pr.Pool())
}

func (s *Server) poolCount(w http.ResponseWriter, _ *http.Request, tid string) {
	pr, ok := s.sw.(PoolReporter)
	if !ok {
		writeError(w, http.StatusNotFound, MsgNotFound, tid)
		return
	}
	writeText(w, http.StatusOK, strconv.Itoa(pr.PoolCount()))
}

// isEnabledFPC is FPCInvokerServer's answer to /isEnabled.
func (s *Server) isEnabledFPC(w http.ResponseWriter) bool {
	if _, ok := s.sw.(PoolReporter); !ok {
		return false
	}
	writeJSON(w, http.StatusOK, struct {
		IsEnabled bool `json:"isEnabled"`
	}{s.sw.Enabled()})
	return true
}
