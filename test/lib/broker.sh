# test/lib/broker.sh: sourced by the gateway tests (test/tap/gateway*.t,
# test/citus/gateway.t).  gateway_test_needs skips the test (TAP "1..0 #
# SKIP", exit 0) without mosquitto or a built tools/gateway; start_broker
# starts a mosquitto of the test's own on a free port of 127.0.0.1, its
# files in $work, and sets $port and $mqpid (the caller kills it).
gateway_test_needs() {   # root of the checkout
	if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
		echo "1..0 # SKIP mosquitto is not installed (tools/pgdev installs it)"
		exit 0
	fi
	[ -x "$1/tools/gateway" ] || { echo "1..0 # SKIP tools/gateway is not built (make)"; exit 0; }
}
start_broker() {
	local mosquitto
	mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
	[ "$(id -u)" -eq 0 ] && echo "user root" >>"$work/mosquitto.conf"
	"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
	mqpid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
}
# gateway_test_db DB ROLE: a database of the test's own (made afresh) with
# the extension in it, a login role of dispatch_gateway that may connect
# to it, and PGDATABASE set to it
gateway_test_db() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" \
		-c "DROP ROLE IF EXISTS $2" -c "CREATE ROLE $2 LOGIN IN ROLE dispatch_gateway" >/dev/null 2>&1 ||
		psql -X -q -d postgres -c "CREATE DATABASE $1" >/dev/null
	export PGDATABASE=$1
	psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -c "SET client_min_messages = warning" -c "CREATE EXTENSION dispatch CASCADE"
	psql -X -q -c "GRANT CONNECT ON DATABASE $1 TO $2" >/dev/null 2>&1
}
