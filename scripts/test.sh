#!/usr/bin/env bash
# The test command (README, .ci/run): installs and starts everything the tests need (Docker engine,
# Kafka 3.9 broker, pouchdb-server, ZooKeeper, test images), runs every test — unit, race, integration — and
# stops what it started. Idempotent; run as root on Debian 12 with Go installed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test] %s\n' "$*" >&2; }

need_pkgs=()
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++) # clickshm compiles clickshm.h as C++, as the Click element does
[ -z "${NEMO_CLICK:-}" ] || command -v strace >/dev/null 2>&1 || need_pkgs+=(strace) # opt-in Click tests: deployments/click/README.md
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v ethtool >/dev/null 2>&1 || need_pkgs+=(ethtool)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v systemd-analyze >/dev/null 2>&1 || need_pkgs+=(systemd) # TestSystemdUnitVerifies
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static) # the invoker image's /bin/sh
command -v docker-compose >/dev/null 2>&1 || need_pkgs+=(docker-compose) # checks deployments/docker-compose
command -v kubectl >/dev/null 2>&1 || command -v kustomize >/dev/null 2>&1 ||
  need_pkgs+=(kubernetes-client) # kubectl kustomize: deployments/helm/post-render.sh in the Helm tests
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

log "gofmt" # first: a formatting slip fails in seconds, before any service starts
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  log "not gofmt-formatted (run gofmt -w):"; printf '  %s\n' $unformatted >&2
  exit 1
fi
log "golangci-lint (.golangci.yml)" # also before any service starts
scripts/lint.sh

# promtool and prometheus from Debian's package, unpacked into the cache (no service is installed or started):
# /metrics is checked with promtool and scraped by a real Prometheus (integration/invoker).
prom_dir=${NEMO_CACHE:-/var/cache/nemo}/prometheus
if [ ! -x "$prom_dir/usr/bin/prometheus" ]; then
  log "unpacking Debian's prometheus package into $prom_dir"
  mkdir -p "$prom_dir"
  prom_tmp=$(mktemp -d)
  (cd "$prom_tmp" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; } &&
    dpkg-deb -x prometheus_*.deb "$prom_dir")
  rm -rf "$prom_tmp"
fi
export NEMO_PROMETHEUS_BIN=$prom_dir/usr/bin

scripts/services.sh up
trap 'scripts/services.sh down' EXIT
scripts/build-images.sh --python
eval "$(scripts/services.sh env)"

log "go vet"
go vet ./...
go vet -tags integration ./...
go vet -tags classiconly ./invoker/cmd/nemo/ ./invoker/app/

# Every go test run goes through scripts/gotest.sh: go test -json, a plain summary, the list of skipped tests,
# and a failure for any skip not allow-listed in scripts/test-skips.txt.
log "unit tests with the race detector"
scripts/gotest.sh unit -race -count=1 ./...

log "simulator baselines: each defining mechanism removed must turn a test red"
scripts/sim-mutations.sh

log "integration tests (real Docker, Kafka 3.9, pouchdb-server, ZooKeeper), one package at a time"
scripts/gotest.sh integration -tags integration -count=1 -p 1 -timeout 30m ./...

log "paper evaluation smoke test: the whole pipeline on one NF and size (scripts/paper-eval.sh --quick)"
scripts/paper-eval.sh --quick
