package config

import (
	"strings"

	"github.com/nemo-edge/nemo/invoker/fpc"
)

// OpenWhisk settings that change what an invoker does and that NEMO does not do. Accepting one would leave
// the deployment believing something NEMO does not do, so Load refuses it: one line naming the setting
// (the variable, or the file or option that set it) and what to do instead. docs/deployments.md lists every
// setting the three upstream deployments pass and what NEMO does with each.

// The service-provider classes NEMO is: the only values of their SPI settings it accepts.
const (
	spiArtifactStore   = "org.apache.openwhisk.core.database.CouchDbStoreProvider"
	spiActivationStore = "org.apache.openwhisk.core.database.ArtifactActivationStoreProvider"
	spiLogStore        = "org.apache.openwhisk.core.containerpool.logging.DockerToActivationLogStoreProvider"
	spiContainerFactry = "org.apache.openwhisk.core.containerpool.docker.DockerContainerFactoryProvider"
)

// spiRule refuses an SPI setting naming another class than the one NEMO implements.
type spiRule struct {
	name, accepted, what string
}

var spiRules = []spiRule{
	{"CONFIG_whisk_spi_ArtifactStoreProvider", spiArtifactStore,
		"NEMO reads actions and writes activations through CouchDB's API only (MongoDB, CosmosDB and other artifact stores are not implemented)"},
	{"CONFIG_whisk_spi_ActivationStoreProvider", spiActivationStore,
		"NEMO writes activation records to the CouchDB activations database only; with another activation store (ElasticSearch) the controller would not find them"},
	{"CONFIG_whisk_spi_LogStoreProvider", spiLogStore,
		"NEMO collects action logs from Docker into the activation record only (OpenWhisk's DockerToActivationLogStoreProvider); other log stores (ElasticSearch, Splunk, files) are not implemented"},
	{"CONFIG_whisk_spi_ContainerFactoryProvider", spiContainerFactry,
		"NEMO runs action containers through the Docker engine only (for Helm: invoker.containerFactory.impl=docker); the Kubernetes and other container factories are not implemented"},
}

// kafkaClientSettings are the raw Kafka client settings (whisk.kafka.common/producer/consumer) NEMO's client
// honours; kafkaSecurity (tls.go) reads them.
var kafkaClientSettings = map[string]bool{
	"whisk.kafka.common.security-protocol":                     true,
	"whisk.kafka.common.ssl-truststore-location":               true,
	"whisk.kafka.common.ssl-truststore-password":               true,
	"whisk.kafka.common.ssl-truststore-type":                   true,
	"whisk.kafka.common.ssl-keystore-location":                 true,
	"whisk.kafka.common.ssl-keystore-password":                 true,
	"whisk.kafka.common.ssl-keystore-type":                     true,
	"whisk.kafka.common.ssl-key-password":                      true,
	"whisk.kafka.common.ssl-endpoint-identification-algorithm": true,
	"whisk.kafka.common.sasl-mechanism":                        true,
	"whisk.kafka.common.sasl-jaas-config":                      true,
}

// invokerTopicSettings are the settings of invoker{N} NEMO creates the topic with (whisk.kafka.topics.invoker).
var invokerTopicSettings = map[string]string{
	"retention-bytes": "retention.bytes",
	"retention-ms":    "retention.ms",
	"segment-bytes":   "segment.bytes",
}

// refuseUnsupported checks the settings of every source (s; complete when the environment could be
// listed) and, through getenv, the fixed-name ones. The first setting NEMO cannot honour is returned as an
// *Error naming it.
func refuseUnsupported(src owSource) error {
	s := src.s
	at := func(path string) (owSetting, bool) {
		if st, ok := s[path]; ok && strings.TrimSpace(st.value) != "" {
			return st, true
		}
		return owSetting{}, false
	}
	for _, r := range spiRules {
		if v, from := src.lookup(r.name); v != "" && v != r.accepted {
			return invalid(from, "%q is not supported: %s (accepted: %s or unset)", v, r.what, r.accepted)
		}
	}
	for _, p := range s.under("whisk.container-factory.container-args.extra-args") {
		if st, ok := at(p); ok {
			return invalid(st.from, "extra docker run arguments (container-args.extra-args) are not supported: NEMO creates containers through the Docker API with the settings it knows (network, dns-servers, dns-search, dns-options, extra-env-vars); remove it")
		}
	}
	if v, from := src.lookup("CONFIG_whisk_docker_client_parallelRuns"); v != "" {
		return invalid(from, "%q: NEMO does not cap concurrent container creations this way (its pool bounds container starts by memory); remove it", v)
	}
	for _, p := range s.under("whisk.kafka.topics.invoker") {
		st, ok := at(p)
		if _, honoured := invokerTopicSettings[strings.TrimPrefix(p, "whisk.kafka.topics.invoker.")]; ok && !honoured {
			return invalid(st.from, "NEMO creates invoker{N} with retention-bytes, retention-ms and segment-bytes only; remove it")
		}
	}
	for _, section := range []string{"common", "producer", "consumer"} {
		for _, p := range s.under("whisk.kafka." + section) {
			if st, ok := at(p); ok && !kafkaClientSettings[p] {
				return invalid(st.from, "Kafka client setting %s is not supported by NEMO's Kafka client (it honours security-protocol, the ssl-* key and trust stores, ssl-endpoint-identification-algorithm, sasl-mechanism and sasl-jaas-config); remove it", p)
			}
		}
	}
	if err := refuseFPC(src); err != nil {
		return err
	}
	return refuseKamon(src)
}

// refuseFPC: the new scheduler's settings are read by fpc.Load (bad values refused with its message), and
// FPC mode itself is refused until NEMO implements it.
func refuseFPC(src owSource) error {
	fc, err := fpc.Load(src.overlay())
	if err != nil {
		field, msg := fpcErrorField(err)
		return invalidCause(field, err, "%s", msg)
	}
	const why = "selects OpenWhisk's new scheduler (FPC), which this NEMO release does not implement: deploy the classic invoker protocol (ansible: invokerReactive_spi/invokerServer_spi unset plus the controller's ShardingContainerPoolBalancer and LocalEntitlementProvider; Helm: scheduler.enabled=false)"
	if fc.Mode == fpc.FPC {
		return invalid(fpc.EnvInvokerProvider, "%q %s", fpc.FPCInvokerProvider, why)
	}
	if fc.Server == fpc.FPCServer {
		return invalid(fpc.EnvInvokerServerProvider, "%q %s", fpc.FPCServerProvider, why)
	}
	for _, p := range src.s.under("whisk.etcd") {
		if st := src.s[p]; strings.TrimSpace(st.value) != "" {
			return invalid(st.from, "etcd %s", why)
		}
	}
	if v, from := src.lookup(fpc.EnvEtcdHosts); v != "" {
		return invalid(from, "etcd %s", why)
	}
	return nil
}

// fpcErrorField splits fpc.Load's "fpc: invalid configuration: NAME: msg" into the variable and the message.
func fpcErrorField(err error) (string, string) {
	msg := strings.TrimPrefix(err.Error(), fpc.ErrInvalid.Error()+": ")
	if name, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(name, configPrefix) {
		return name, rest
	}
	return "FPC settings", msg
}

// EnvMetricsKamon and the others are the metric switches OpenWhisk's images read (application.conf
// whisk.metrics.*-enabled = ${?METRICS_…}).
const (
	EnvMetricsKamon     = "METRICS_KAMON"
	EnvMetricsKamonTags = "METRICS_KAMON_TAGS"
	EnvMetricsLog       = "METRICS_LOG"
)

// metricSwitch reads a whisk.metrics switch: its CONFIG_ form, the HOCON file's or a -D value, else the
// variable application.conf substitutes (envName, "" for none). ok is false when nothing sets it.
func metricSwitch(src owSource, configName, envName string) (on bool, from string, ok bool, err error) {
	v, from := src.lookup(configName)
	if v == "" && envName != "" {
		v, from = strings.TrimSpace(src.getenv(envName)), envName
	}
	if v == "" {
		return false, "", false, nil
	}
	b, perr := parseBool(v)
	if perr != nil {
		return false, from, true, invalid(from, "%v", perr)
	}
	return b, from, true, nil
}

// refuseKamon: with Kamon on, OpenWhisk's invoker sends its metrics to StatsD unless the Prometheus endpoint
// is what the deployment uses (Helm's metrics.prometheusEnabled sets both). NEMO has the endpoint only.
func refuseKamon(src owSource) error {
	kamon, from, _, err := metricSwitch(src, "CONFIG_whisk_metrics_kamonEnabled", EnvMetricsKamon)
	if err != nil || !kamon {
		return err
	}
	prom, _, _, err := metricSwitch(src, "CONFIG_whisk_metrics_prometheusEnabled", "")
	if err != nil {
		return err
	}
	if !prom {
		return invalid(from, "Kamon metrics to StatsD are not supported: NEMO serves OpenWhisk's metric names on /metrics for Prometheus; enable that instead (whisk.metrics.prometheus-enabled=true, e.g. Helm's metrics.prometheusEnabled) or unset it")
	}
	return nil
}
