#!/bin/bash
# mk/run-demo.sh: the demo of `make run`, on a built tree.
#
# 1. build/run/ holds everything: a private redis-server (Unix socket
#    build/run/redis.sock, no persistence) when conf/pulsed.conf names no
#    Redis or the one it names does not answer; build/run/pulsed.conf, a
#    copy of conf/pulsed.conf with socket.path build/run/pulsed.sock, no
#    socket group or admin group, and that Redis.
# 2. pulsed runs in the background with its log on this terminal, prefixed
#    "[pulsed]"; the example worker's output is prefixed "[worker]".
# 3. The demo: a worker attaches to pool "demo", a job is dispatched,
#    listed, notified, stopped, and pulsectl shows the state. Each command
#    is echoed with "+ ".
# 4. Then it waits for Ctrl-C (or for pulsed to exit). With
#    PULSE_DEMO_EXIT=1 (make run DEMO_ONLY=1) it stops right after the demo
#    and exits 1 when a step failed.
# On exit, INT or TERM it stops the worker, then pulsed (SIGTERM, waits),
# then redis-server, and leaves no process behind.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

build=${PULSE_BUILD:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
run=$build/run
conf=${PULSE_DEMO_CONF:-$root/conf/pulsed.conf}
pool=${PULSE_DEMO_POOL:-demo}
demo_exit=${PULSE_DEMO_EXIT:-0}
py=/usr/bin/python3
sock=$run/pulsed.sock
rsock=$run/redis.sock

say() { printf '== %s\n' "$*"; }
die() { printf 'run-demo: %s\n' "$*" >&2; exit 1; }
# A path or argument as shown to people: relative to the repository.
show() {
	local a out=()
	for a in "$@"; do
		a=${a//$root\//}
		if [[ $a =~ [^A-Za-z0-9_./:=@%+,-] ]]; then a=$(printf '%q' "$a"); fi
		out+=("$a")
	done
	printf '%s' "${out[*]}"
}

for b in pulsed pulsectl examples/worker examples/dispatch; do
	[ -x "$build/$b" ] || die "$(show "$build/$b") is missing: run 'make' first"
done
[ -x "$py" ] || die "$py is missing: run 'make deps'"
if [ ${#sock} -gt 100 ]; then
	die "socket path $sock is too long for a Unix socket: use a shorter checkout path"
fi

redis_pid=
pulsed_pid=
worker_pid=
cleaned=

# alive PID: true while PID runs (a zombie child counts as gone).
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop PID NAME SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop() {
	local pid=$1 name=$2 secs=$3 i
	[ -n "$pid" ] || return 0
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < secs * 10; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			echo "run-demo: $name did not stop within ${secs}s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	[ -z "$cleaned" ] || return 0
	cleaned=1
	trap '' INT TERM
	if [ -n "$worker_pid$pulsed_pid$redis_pid" ]; then say "stopping"; fi
	stop "$worker_pid" worker 5
	stop "$pulsed_pid" pulsed 30
	stop "$redis_pid" redis-server 10
	# Let the log prefixers (which exit at EOF) drain.
	sleep 0.2
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# Output prefixers ignore Ctrl-C so that nothing loses its log, or dies of
# SIGPIPE, while it shuts down.
prefix() { trap '' INT; exec sed -u "s/^/[$1] /"; }

# Line-buffer the example programs' stdout through a pipe (not with a
# sanitizer runtime, which must come first).
linebuf=()
if command -v stdbuf >/dev/null && ! ldd "$build/examples/worker" 2>/dev/null | grep -q 'libasan'; then
	linebuf=(stdbuf -oL -eL)
fi

mkdir -p "$run"
rm -f "$sock" "$rsock"

# --- Redis: the configured one, else a private one -----------------------

url=
if [ -f "$conf" ]; then
	# A config that parses but cannot start as it is (no redis.url, a
	# socket group this host lacks: the sample's case) is fine here: the
	# demo replaces those keys below.
	if ! effective=$("$build/pulsed" -n -c "$conf" 2> "$run/check.err") &&
	   ! grep -q 'parses, but pulsed cannot start with it' "$run/check.err"; then
		cat "$run/check.err" >&2
		printf '%s\n' "$effective" >&2
		die "$(show "$conf") does not pass 'pulsed -n'"
	fi
	url=$(printf '%s' "$effective" | "$py" -c '
import json, sys
text = sys.stdin.read()
try:
    c = json.loads(text)
except ValueError:
    i, j = text.find("{"), text.rfind("}")
    try:
        c = json.loads(text[i:j + 1]) if i >= 0 else {}
    except ValueError:
        c = {}
if not c:
    with open(sys.argv[1]) as f:
        c = json.load(f)
r = c.get("redis") or {}
print(r.get("url") or "" if isinstance(r, dict) else "")
' "$conf") || die "cannot read the effective configuration of $(show "$conf")"
else
	echo "run-demo: no $(show "$conf"): using the defaults"
fi

if [ -n "$url" ]; then
	if "$py" - "$url" <<'EOF'; then
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
try:
    if u.scheme == "unix":
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(u.path)
    elif u.scheme in ("redis", "tcp"):
        s = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), 1)
    else:
        sys.exit(0)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(64)[:1] in (b"+", b"-") else 1)
except OSError:
    sys.exit(1)
EOF
		say "using the Redis that $(show "$conf") names: $url"
	else
		say "the Redis that $(show "$conf") names ($url) does not answer: starting a private one"
		url=
	fi
fi

private=0
if [ -z "$url" ]; then
	private=1
	# the server and its cli: PULSE_REDIS_SERVER as in the tests
	# (tests/integration/harness.py), e.g. /usr/bin/valkey-server
	rsrv=${PULSE_REDIS_SERVER:-redis-server}
	case $rsrv in
	*-server) rcli=${PULSE_REDIS_CLI:-${rsrv%-server}-cli} ;;
	*) rcli=${PULSE_REDIS_CLI:-redis-cli} ;;
	esac
	command -v "$rsrv" >/dev/null || die "$rsrv is missing: run 'make deps'"
	say "starting a private $(basename "$rsrv") on $(show "$rsock") (log: $(show "$run/redis.log"))"
	"$rsrv" --port 0 --unixsocket "$rsock" --unixsocketperm 700 \
		--save '' --appendonly no --daemonize no \
		--dir "$run" --logfile "$run/redis.log" </dev/null &
	redis_pid=$!
	for ((i = 0; i < 100; i++)); do
		if [ -S "$rsock" ] && { ! command -v "$rcli" >/dev/null ||
			[ "$("$rcli" -s "$rsock" ping 2>/dev/null)" = PONG ]; }; then
			break
		fi
		alive "$redis_pid" || { cat "$run/redis.log" >&2; die "$rsrv exited"; }
		sleep 0.1
	done
	[ -S "$rsock" ] || die "$rsrv did not open $rsock within 10s"
	url=unix://$rsock
	# This Redis is new, not one that lost its data: say so, or the
	# pool's first dispatch waits one worker TTL for nodes that may have
	# run it before (README.md, "What Redis can lose, and how pulsed
	# rebuilds").
	if command -v "$rcli" >/dev/null; then
		run_id=$("$rcli" -s "$rsock" INFO server | sed -n 's/^run_id:\([0-9a-f]*\).*/\1/p')
		"$rcli" -s "$rsock" SET pulse:redis "$run_id 0" >/dev/null
	fi
fi

# --- build/run/pulsed.conf -------------------------------------------------

"$py" - "$conf" "$run/pulsed.conf" "$sock" "$url" "$private" "$pool" <<'EOF' || die "cannot write $run/pulsed.conf"
import json, os, sys
src, out, sock, url, private, pool = sys.argv[1:7]
c = {}
if os.path.exists(src):
    with open(src) as f:
        c = json.load(f)
s = c.get("socket")
if not isinstance(s, dict):
    s = c["socket"] = {}
s["path"] = sock
for k in ("group", "admin_group"):
    s.pop(k, None)
c.pop("admin_group", None)
if private == "1":
    r = c.get("redis")
    if not isinstance(r, dict):
        r = c["redis"] = {}
    for k in list(r):
        if k == "user" or k.startswith("password"):
            del r[k]
    r["url"] = url
p = c.get("pools")
if isinstance(p, dict) and p and "*" not in p and pool not in p:
    p[pool] = {}
with open(out + ".tmp", "w") as f:
    json.dump(c, f, indent=2)
    f.write("\n")
os.replace(out + ".tmp", out)
EOF

if ! "$build/pulsed" -n -c "$run/pulsed.conf" > "$run/check.out" 2>&1; then
	cat "$run/check.out" >&2
	die "the generated $(show "$run/pulsed.conf") does not pass 'pulsed -n'"
fi

# --- pulsed ----------------------------------------------------------------

pulsed_cmd=("$build/pulsed" -c "$run/pulsed.conf")
if [ -n "${PULSE_DEMO_DEBUG:-}" ]; then pulsed_cmd+=(-d); fi
say "starting pulsed; its log follows, prefixed [pulsed]"
echo "+ $(show "${pulsed_cmd[@]}")"
"${pulsed_cmd[@]}" </dev/null > >(prefix pulsed) 2>&1 &
pulsed_pid=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$sock" ] && break
	alive "$pulsed_pid" || die "pulsed exited before opening $(show "$sock")"
	sleep 0.1
done
[ -S "$sock" ] || die "pulsed did not open $(show "$sock") within 10s"

# --- the demo --------------------------------------------------------------

failures=0
step() {
	echo "+ $(show "$@")"
	"$@"
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "run-demo: that step failed (exit $rc)" >&2
		failures=$((failures + 1))
	fi
	return 0
}

say "demo: a worker attaches to pool $pool, a job is dispatched, notified and stopped"
worker_cmd=("$build/examples/worker" -s "$sock" -p "$pool" -n demo-worker)
echo "+ $(show "${worker_cmd[@]}") &"
${linebuf[@]+"${linebuf[@]}"} "${worker_cmd[@]}" </dev/null > >(prefix worker) 2>&1 &
worker_pid=$!

# Wait (quietly, up to 5 s) until pulsed lists the worker. A dispatch
# before that would wait for it anyway.
for ((i = 0; i < 50; i++)); do
	alive "$worker_pid" || break
	if { "$build/pulsectl" -s "$sock" workers "$pool"
		"$build/pulsectl" -s "$sock" --json workers "$pool"; } 2>/dev/null | grep -q demo-worker; then
		break
	fi
	sleep 0.1
done
if ! alive "$worker_pid"; then
	echo "run-demo: the example worker exited" >&2
	failures=$((failures + 1))
fi

step "$build/examples/dispatch" -s "$sock" -p "$pool" job-1 'hello'
step "$build/pulsectl" -s "$sock" jobs "$pool"
step "$build/pulsectl" -s "$sock" notify "$pool" job-1 ping
step "$build/pulsectl" -s "$sock" workers "$pool"
step "$build/pulsectl" -s "$sock" stop "$pool" job-1
step "$build/pulsectl" -s "$sock" status

if [ "$failures" -eq 0 ]; then
	say "demo done"
else
	say "demo done: $failures step(s) failed"
fi

if [ "$demo_exit" = 1 ]; then
	[ "$failures" -eq 0 ]
	exit
fi

say "pulsed keeps running on $(show "$sock"); try: $(show "$build/pulsectl") -s $(show "$sock") status"
say "Ctrl-C stops the worker, pulsed$([ "$private" = 1 ] && echo " and the private redis-server")"
rc=0
while alive "$pulsed_pid"; do
	wait "$pulsed_pid"
	rc=$?
done
pulsed_pid=
say "pulsed exited (status $rc)"
exit "$rc"
