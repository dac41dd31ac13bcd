#!/bin/sh
# Helm post-renderer for apache/openwhisk-deploy-kube's chart with NEMO as the invoker: reads the
# rendered manifests on stdin and writes them to stdout with
#   - invoker-patch.yaml applied to the invoker DaemonSet "<release>-invoker" (grace period, NEMO_CONFIG,
#     the config and Docker log mounts), and
#   - nemo-config.yaml (the ConfigMap nemo-invoker-config) added, so that helm installs, upgrades and
#     removes it with the release.
#
#   helm install owdev ./helm/openwhisk -n openwhisk -f mycluster.yaml -f values-nemo.yaml \
#       --post-renderer ./post-render.sh --post-renderer-args owdev
#
# The argument is the release name (default owdev). Needs kubectl (its built-in kustomize; kubectl 1.14
# or later) or kustomize on PATH; nothing is sent to a cluster.
set -eu

release=${1:-owdev}
case "$release" in
*[!a-z0-9-]* | "") echo "post-render.sh: release name \"$release\" is not a DNS label" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/rendered.yaml"
grep -q "^  name: $release-invoker\$" "$work/rendered.yaml" || {
	echo "post-render.sh: no DaemonSet $release-invoker in the rendered manifests (release name? invoker.containerFactory.impl: docker?)" >&2
	exit 1
}
sed "s/^  name: owdev-invoker\$/  name: $release-invoker/" "$here/invoker-patch.yaml" >"$work/invoker-patch.yaml"
cp "$here/nemo-config.yaml" "$work/nemo-config.yaml"
cat >"$work/kustomization.yaml" <<KUST
resources:
- rendered.yaml
- nemo-config.yaml
patchesStrategicMerge:
- invoker-patch.yaml
KUST

if command -v kubectl >/dev/null 2>&1; then
	kubectl kustomize "$work"
elif command -v kustomize >/dev/null 2>&1; then
	kustomize build "$work"
else
	echo "post-render.sh: needs kubectl or kustomize on PATH" >&2
	exit 1
fi
