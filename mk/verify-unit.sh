#!/bin/bash
# mk/verify-unit.sh [UNIT [SYSUSERS]]: checks systemd/pulsed.service with
# `systemd-analyze verify` and systemd/pulsed.sysusers with systemd-sysusers
# in a scratch root, and that they name user, group and runtime directory
# pulsed. Prints nothing and exits 0 when both are clean; any
# output from either tool is a failure (systemd-analyze exits 0 on unknown
# keys, so its stderr is what counts).
#
# @SBINDIR@ is pointed at a scratch directory holding a copy of
# $PULSE_BUILD/pulsed (or /bin/true before it is built), since verify
# insists that ExecStart names an executable.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
unit=${1:-$root/systemd/pulsed.service}
sysusers=${2:-$root/systemd/pulsed.sysusers}
build=${PULSE_BUILD:-$root/build}

for t in systemd-analyze systemd-sysusers; do
	if ! command -v "$t" >/dev/null; then
		echo "verify-unit: $t not found: run 'make deps' (package systemd)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/sbin" "$tmp/unit" "$tmp/root/etc"

bin=$build/pulsed
[ -x "$bin" ] || bin=/bin/true
cp "$bin" "$tmp/sbin/pulsed"
sed "s|@SBINDIR@|$tmp/sbin|g" "$unit" > "$tmp/unit/pulsed.service"

fail=0
out=$(cd "$tmp/unit" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
	"$tmp/unit/pulsed.service" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
	printf '%s\n' "$out" | sed "s|$tmp/unit/||g; s|$tmp/sbin|@SBINDIR@|g" >&2
	echo "verify-unit: systemd-analyze verify: $unit is not clean (exit $rc)" >&2
	fail=1
fi

# The unit runs as user and group pulsed in /run/pulsed: names of our own,
# not those of Debian's PulseAudio (its user pulse and runtime directory).
for kv in User=pulsed Group=pulsed RuntimeDirectory=pulsed; do
	k=${kv%%=*}
	v=$(sed -n "s/^$k=//p" "$unit" | tail -n 1)
	if [ "$k=$v" != "$kv" ]; then
		echo "verify-unit: $unit says $k=$v, not $kv" >&2
		fail=1
	fi
done

# The sysusers file must create user and group "pulsed", the user's
# primary group being that group.
: > "$tmp/root/etc/passwd"
: > "$tmp/root/etc/group"
out=$(systemd-sysusers --root="$tmp/root" "$sysusers" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || printf '%s\n' "$out" | grep -v -e '^Creating ' -e '^$' | grep -q .; then
	printf '%s\n' "$out" >&2
	echo "verify-unit: systemd-sysusers: $sysusers is not clean (exit $rc)" >&2
	fail=1
elif ! grep -q '^pulsed:' "$tmp/root/etc/passwd" || ! grep -q '^pulsed:' "$tmp/root/etc/group"; then
	echo "verify-unit: $sysusers does not create user and group pulsed" >&2
	fail=1
elif [ "$(awk -F: '$1 == "pulsed" { print $4 }' "$tmp/root/etc/passwd")" != \
	"$(awk -F: '$1 == "pulsed" { print $3 }' "$tmp/root/etc/group")" ]; then
	echo "verify-unit: $sysusers does not make group pulsed the user pulsed's own" >&2
	fail=1
fi

exit "$fail"
