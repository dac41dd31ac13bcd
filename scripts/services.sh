#!/usr/bin/env bash
# Installs and starts, idempotently, the real services NEMO's integration tests need, and stops
# only what it started itself:
#   - Docker engine (Debian's docker.io, API 1.41)      /var/run/docker.sock
#   - Apache Kafka 3.9 KRaft broker (Maven Central jars) 127.0.0.1:9092
#   - pouchdb-server (CouchDB HTTP API, from npm)        127.0.0.1:5984, admin nemo/nemo
#   - Apache ZooKeeper (Debian's zookeeper package)      127.0.0.1:12181 (invoker id assignment tests)
#   - etcd 3.4 (Debian's etcd-server; FPC mode tests)    127.0.0.1:23790
#
# usage: scripts/services.sh up [docker] [kafka] [pouchdb] [zookeeper] [etcd] | restart docker | down | status | env
#   `up` with no names starts them all. `restart docker` stops and starts a dockerd this script started
#   (the Docker-restart fault test uses it); it refuses (exit 3) to touch a daemon it did not start.
# Caches (survive between runs): $NEMO_CACHE (default /var/cache/nemo).
# State of this run (pids, what we started): $NEMO_STATE (default /tmp/nemo-services).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${NEMO_CACHE:-/var/cache/nemo}
state=${NEMO_STATE:-/tmp/nemo-services}
kafka_version=3.9.1
kafka_port=${NEMO_KAFKA_PORT:-9092}
couch_port=${NEMO_COUCH_PORT:-5984}
zk_port=${NEMO_ZOOKEEPER_PORT:-12181}
etcd_port=${NEMO_ETCD_PORT:-23790}
mkdir -p "$cache" "$state"

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for <seconds> <description> <command...>
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then log "timed out after ${secs}s waiting for $what"; return 1; fi
    sleep 0.5
  done
}

# daemon CMD...: run CMD in the background, in a session of its own, holding none of this script's file
# descriptors beyond 0-2. Callers run this script under `flock /tmp/nemo-it.lock …`; a daemon that
# inherited the lock's descriptor would keep the lock held for as long as it runs (a dockerd restarted
# by a test held it until the next restart). $! is the daemon's pid: the subshell execs setsid, which
# execs (not being a group leader) nohup, which execs CMD.
daemon() {
  (
    # No redirection on the loop: bash would keep a saved copy of stderr above 2, close it here, and
    # leave the daemon's stderr on /dev/null. Descriptors already gone (the listing's own) are skipped.
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] && [ -e "/proc/$BASHPID/fd/$fd" ]; then eval "exec $fd>&-"; fi
    done
    exec setsid nohup "$@"
  ) &
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------- Docker ----------
docker_up() {
  if docker info >/dev/null 2>&1; then log "docker: already running"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "docker: installing docker.io from Debian"
    apt_install docker.io
  fi
  log "docker: starting dockerd"
  # setsid: a session of its own, so that whatever group started it (a test restarting the engine, a
  # CI step) can be killed without taking the daemon along.
  daemon dockerd >>"$state/dockerd.log" 2>&1
  echo $! >"$state/dockerd.pid"
  wait_for 60 "dockerd" docker info >/dev/null 2>&1 || { tail -20 "$state/dockerd.log" >&2; return 1; }
  log "docker: up ($(docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}'))"
}

# ---------- Kafka ----------
kafka_libs="$cache/kafka/libs-$kafka_version"
kafka_up() {
  if port_open "$kafka_port"; then log "kafka: something already listens on $kafka_port, using it"; return; fi
  if ! command -v java >/dev/null 2>&1; then apt_install openjdk-17-jre-headless; fi
  if [ ! -f "$kafka_libs/.complete" ]; then
    command -v mvn >/dev/null 2>&1 || apt_install maven
    log "kafka: fetching Apache Kafka $kafka_version jars from Maven Central"
    local t0=$SECONDS
    rm -rf "$kafka_libs"
    mvn -q -B -Dstyle.color=never -f "$here/integration/kafka/pom.xml" -Dkafka.version="$kafka_version" \
      dependency:copy-dependencies -DoutputDirectory="$kafka_libs" >"$state/mvn.log" 2>&1 ||
      { tail -30 "$state/mvn.log" >&2; return 1; }
    touch "$kafka_libs/.complete"
    log "kafka: jars fetched in $((SECONDS - t0))s"
  fi
  local data="$state/kafka-data" cfg="$state/kafka.properties"
  rm -rf "$data"; mkdir -p "$data"
  cat >"$cfg" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((kafka_port + 1))
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$((kafka_port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  cat >"$state/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
  local cp="$kafka_libs/*"
  local jopts=(-Xms128m -Xmx384m -XX:+UseSerialGC -Dlog4j.configuration="file:$state/log4j.properties")
  java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" -c "$cfg" >"$state/kafka-format.log" 2>&1
  log "kafka: starting broker $kafka_version (KRaft) on 127.0.0.1:$kafka_port"
  local t0=$SECONDS
  daemon java "${jopts[@]}" -cp "$cp" kafka.Kafka "$cfg" >"$state/kafka.log" 2>&1
  echo $! >"$state/kafka.pid"
  wait_for 120 "kafka" port_open "$kafka_port" || { tail -30 "$state/kafka.log" >&2; return 1; }
  log "kafka: up in $((SECONDS - t0))s"
}

# ---------- pouchdb-server ----------
pouch_dir="$cache/pouchdb"
couch_url="http://127.0.0.1:$couch_port"
pouch_up() {
  if port_open "$couch_port"; then log "pouchdb: something already listens on $couch_port, using it"; return; fi
  if [ ! -x "$pouch_dir/node_modules/.bin/pouchdb-server" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    log "pouchdb: installing pouchdb-server@4.2.0 from npm (about 2 minutes)"
    mkdir -p "$pouch_dir"
    (cd "$pouch_dir" && { [ -f package.json ] || npm init -y >/dev/null; } &&
      npm install --no-audit --no-fund --loglevel=error pouchdb-server@4.2.0 >/dev/null)
  fi
  log "pouchdb: starting pouchdb-server --in-memory on $couch_url"
  # It keeps config.json and log.txt in its working directory: start from a clean one.
  local wd="$state/pouchdb"; rm -rf "$wd"; mkdir -p "$wd"
  # `cd` on its own line: with `cd && nohup … &` the shell would background a subshell, and the pid
  # file would name the subshell instead of the server.
  (
    cd "$wd" || exit 1
    daemon "$pouch_dir/node_modules/.bin/pouchdb-server" --in-memory --host 127.0.0.1 --port "$couch_port" \
      >"$state/pouchdb.log" 2>&1
    echo $! >"$state/pouchdb.pid"
  )
  wait_for 60 "pouchdb-server" curl -sf "$couch_url/" -o /dev/null || { tail -20 "$state/pouchdb.log" >&2; return 1; }
  # Admin party.
  curl -sf -X PUT "$couch_url/_config/admins/nemo" -d '"nemo"' -o /dev/null || true
  log "pouchdb: up"
}

# ---------- ZooKeeper ----------
# Debian's package installs the jars only (no service). The server runs standalone on loopback with the
# AdminServer off (it would take port 8080, the invoker's) and a fresh data directory each time.
zk_up() {
  if port_open "$zk_port"; then log "zookeeper: something already listens on $zk_port, using it"; return; fi
  if [ ! -f /usr/share/java/zookeeper.jar ]; then
    command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
    log "zookeeper: installing Debian's zookeeper package"
    apt_install zookeeper
  fi
  local data="$state/zookeeper-data" cfg="$state/zoo.cfg"
  rm -rf "$data"; mkdir -p "$data"
  cat >"$cfg" <<CFG
tickTime=2000
dataDir=$data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
maxClientCnxns=0
CFG
  log "zookeeper: starting on 127.0.0.1:$zk_port"
  local t0=$SECONDS
  daemon java -Xms32m -Xmx128m -XX:+UseSerialGC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
    org.apache.zookeeper.server.ZooKeeperServerMain "$cfg" >"$state/zookeeper.log" 2>&1
  echo $! >"$state/zookeeper.pid"
  wait_for 60 "zookeeper" port_open "$zk_port" || { tail -30 "$state/zookeeper.log" >&2; return 1; }
  log "zookeeper: up in $((SECONDS - t0))s"
}

# ---------- etcd ----------
# Debian's etcd-server 3.4: the API level Helm deploys (quay.io/coreos/etcd:v3.4.0). Its own ports (client
# $etcd_port, peer $etcd_port+10), a throw-away data dir, never the distribution's systemd unit.
etcd_up() {
  if port_open "$etcd_port"; then log "etcd: something already listens on $etcd_port, using it"; return; fi
  command -v etcd >/dev/null 2>&1 || { log "etcd: installing etcd-server from Debian"; apt_install etcd-server; }
  local data="$state/etcd-data" peer="http://127.0.0.1:$((etcd_port + 10))"
  rm -rf "$data"
  log "etcd: starting $(etcd --version | head -1) on 127.0.0.1:$etcd_port"
  daemon etcd --name nemo-test --data-dir "$data" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "nemo-test=$peer" \
    --initial-cluster-state new >"$state/etcd.log" 2>&1
  echo $! >"$state/etcd.pid"
  wait_for 30 "etcd" curl -sf "http://127.0.0.1:$etcd_port/health" -o /dev/null || { tail -20 "$state/etcd.log" >&2; return 1; }
  log "etcd: up"
}

stop_pid() { # stop_pid <name>
  local f="$state/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "$1: stopping (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

case "${1:-}" in
  up)
    shift
    [ $# -gt 0 ] || set -- docker kafka pouchdb zookeeper etcd
    for svc in "$@"; do
      case "$svc" in
        docker) docker_up ;;
        kafka) kafka_up ;;
        pouchdb) pouch_up ;;
        zookeeper) zk_up ;;
        etcd) etcd_up ;;
        *) echo "unknown service: $svc" >&2; exit 2 ;;
      esac
    done
    ;;
  restart)
    [ "${2:-}" = docker ] || { echo "usage: $0 restart docker" >&2; exit 2; }
    if [ ! -f "$state/dockerd.pid" ]; then
      log "docker: the running daemon was not started by this script; not restarting it"
      exit 3
    fi
    t0=$SECONDS
    stop_pid dockerd
    docker_up
    log "docker: restarted in $((SECONDS - t0))s"
    ;;
  down)
    # Only what this script started (pid files); services found running are left alone.
    stop_pid zookeeper
    stop_pid etcd
    stop_pid pouchdb
    stop_pid kafka
    if [ -f "$state/dockerd.pid" ]; then
      docker ps -aq --filter label=nemo.invoker | xargs -r docker rm -f >/dev/null 2>&1 || true
      stop_pid dockerd
    fi
    ;;
  status)
    docker info >/dev/null 2>&1 && echo "docker: up" || echo "docker: down"
    port_open "$kafka_port" && echo "kafka: up (127.0.0.1:$kafka_port)" || echo "kafka: down"
    port_open "$couch_port" && echo "pouchdb: up ($couch_url)" || echo "pouchdb: down"
    port_open "$zk_port" && echo "zookeeper: up (127.0.0.1:$zk_port)" || echo "zookeeper: down"
    port_open "$etcd_port" && echo "etcd: up (127.0.0.1:$etcd_port)" || echo "etcd: down"
    ;;
  env)
    echo "export NEMO_DOCKER=1"
    echo "export NEMO_KAFKA=127.0.0.1:$kafka_port"
    echo "export NEMO_COUCHDB=http://nemo:nemo@127.0.0.1:$couch_port"
    echo "export NEMO_ZOOKEEPER=127.0.0.1:$zk_port"
    echo "export NEMO_ETCD=127.0.0.1:$etcd_port"
    # The broker's jars, for tests that run a Kafka broker of their own (TLS/SASL listeners, own ports).
    echo "export NEMO_KAFKA_LIBS=$kafka_libs"
    ;;
  *)
    echo "usage: $0 up|restart docker|down|status|env" >&2
    exit 2
    ;;
esac
