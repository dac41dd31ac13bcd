#!/bin/sh
# /init.sh of the nemo/invoker image: the entry point OpenWhisk deployments call.
#
# openwhisk-devtools runs `/bin/sh -c "exec /init.sh --id 0 >> /logs/invoker-local_logs.log 2>&1"`, Helm
# runs `/init.sh --uniqueName $INVOKER_NAME` (the id then comes from ZooKeeper, ZOOKEEPER_HOSTS), ansible
# `/init.sh --id N --uniqueName N`. NEMO's invoker
# subcommand takes the same flags (--id, --uniqueName, --displayedName, --overwriteId, plus --config), so
# they are passed through unchanged. A first argument naming another nemo subcommand (version, demo,
# simulate, invoker, help) is passed to nemo as it is, so `/init.sh version` prints the version and
# `/init.sh help` the commands.
#
# The invoker runs from /usr/bin/nemo-classic, the classic-only build (about 40 % less resident memory);
# when the configuration selects OpenWhisk's new scheduler (FPC) it hands over to the full /usr/bin/nemo by
# itself, keeping the process. The other subcommands are the full build's.
#
# exec keeps nemo the container's main process: `docker stop` delivers SIGTERM to it, and it drains
# in-flight activations and restores NIC settings before exiting.
set -eu

case "${1-}" in
invoker)
	shift
	exec /usr/bin/nemo-classic invoker "$@"
	;;
version | demo | simulate | help)
	exec /usr/bin/nemo "$@"
	;;
esac
exec /usr/bin/nemo-classic invoker "$@"
