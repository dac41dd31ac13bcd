package itest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Broker is a private single-node Kafka broker (KRaft) that a test starts, stops and restarts on ports of
// its own, from the Apache Kafka jars scripts/services.sh fetches into $NEMO_CACHE/kafka. It is test
// equipment for broker outages: the shared broker (NEMO_KAFKA) is never stopped.
type Broker struct {
	// Addr is the advertised bootstrap address, 127.0.0.1:<port>.
	Addr string
	Port int

	t        testing.TB
	dir      string
	cfgPath  string
	classp   string
	jvmOpts  []string
	proc     *Proc
	starts   int
	listenOn string
}

// BrokerOptions configure StartBroker.
type BrokerOptions struct {
	// ListenHost is the address the broker binds (default 127.0.0.1); "0.0.0.0" makes it reachable from
	// containers on a bridge as the host's gateway address (isolation tests). It always advertises
	// 127.0.0.1.
	ListenHost string
}

// KafkaJars is the directory of the Kafka jars services.sh fetched ("" when none is there).
func KafkaJars() string {
	cache := os.Getenv("NEMO_CACHE")
	if cache == "" {
		cache = "/var/cache/nemo"
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "kafka", "libs-*"))
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], ".complete")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

// StartBroker formats a data directory and starts the broker; it waits until the broker accepts
// connections and registers its kill as a cleanup. It skips the test when Java or the jars are missing
// (scripts/services.sh up kafka installs both).
func StartBroker(t testing.TB, o BrokerOptions) *Broker {
	t.Helper()
	jars := KafkaJars()
	if jars == "" {
		t.Skip("no Kafka jars under $NEMO_CACHE/kafka (scripts/services.sh up kafka fetches them)")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java is not in PATH (scripts/services.sh up kafka installs it)")
	}
	if o.ListenHost == "" {
		o.ListenHost = "127.0.0.1"
	}
	b := &Broker{t: t, dir: t.TempDir(), classp: filepath.Join(jars, "*"), listenOn: o.ListenHost,
		Port: FreePort(t)}
	b.Addr = "127.0.0.1:" + strconv.Itoa(b.Port)
	ctrl := FreePort(t)
	b.cfgPath = filepath.Join(b.dir, "server.properties")
	props := strings.Join([]string{
		"process.roles=broker,controller",
		"node.id=1",
		fmt.Sprintf("controller.quorum.voters=1@127.0.0.1:%d", ctrl),
		fmt.Sprintf("listeners=PLAINTEXT://%s:%d,CONTROLLER://127.0.0.1:%d", o.ListenHost, b.Port, ctrl),
		"advertised.listeners=PLAINTEXT://" + b.Addr,
		"controller.listener.names=CONTROLLER",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name=PLAINTEXT",
		"log.dirs=" + filepath.Join(b.dir, "data"),
		"num.partitions=1",
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		"auto.create.topics.enable=true",
		// The invoker creates invoker{N} with max.message.bytes 1054644; the broker must accept that too.
		"message.max.bytes=4194304",
		"",
	}, "\n")
	if err := os.WriteFile(b.cfgPath, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	l4j := filepath.Join(b.dir, "log4j.properties")
	if err := os.WriteFile(l4j, []byte("log4j.rootLogger=WARN, stdout\n"+
		"log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"+
		"log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"+
		"log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.jvmOpts = []string{"-Xms64m", "-Xmx320m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dlog4j.configuration=file:" + l4j}
	id, err := exec.Command("java", append(b.jvmOpts, "-cp", b.classp, "kafka.tools.StorageTool", "random-uuid")...).Output()
	if err != nil {
		t.Fatalf("kafka random-uuid: %v", err)
	}
	out, err := exec.Command("java", append(b.jvmOpts, "-cp", b.classp, "kafka.tools.StorageTool", "format",
		"-t", strings.TrimSpace(string(id)), "-c", b.cfgPath)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka storage format: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if b.proc != nil && !b.proc.Exited() {
			_ = b.proc.Kill()
		}
	})
	b.Start()
	return b
}

// Start starts the broker (again, after Stop) on the same ports and data, and waits until it accepts
// connections.
func (b *Broker) Start() {
	b.t.Helper()
	b.starts++
	b.proc = Spawn(b.t, ProcSpec{Name: "kafka", Bin: "java", Dir: b.dir,
		Args:    append(append([]string(nil), b.jvmOpts...), "-cp", b.classp, "kafka.Kafka", b.cfgPath),
		LogPath: LogFile(b.dir, fmt.Sprintf("kafka-%d-%d.log", b.Port, b.starts))})
	deadline := time.Now().Add(120 * time.Second)
	for {
		if b.proc.Exited() {
			b.t.Fatalf("private kafka exited during start-up: %s\n%s", b.proc.Describe(), Tail(b.proc.LogPath, 30))
		}
		if c, err := net.DialTimeout("tcp", b.Addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("private kafka did not listen on %s within 120 s\n%s", b.Addr, Tail(b.proc.LogPath, 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop kills the broker at once (SIGKILL: the outage a crash or a network cut causes) and waits until
// it is gone.
func (b *Broker) Stop() {
	b.t.Helper()
	if b.proc == nil || b.proc.Exited() {
		return
	}
	if err := b.proc.Kill(); err != nil {
		b.t.Fatal(err)
	}
}

// Log is the broker's current log, for failure messages.
func (b *Broker) Log() string {
	if b.proc == nil {
		return ""
	}
	return Tail(b.proc.LogPath, 40)
}
