# test/lib/broker.sh: sourced by the gateway tests (test/tap/gateway.t,
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
