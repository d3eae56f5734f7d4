#!/bin/bash
# mk/deps.sh [EXTRA-PACKAGE...]: makes sure the Debian packages that the
# build and the tests need are installed.
#
# All present: prints "deps: ok" and exits 0 (one dpkg-query, no apt).
# Some missing, as root: apt-get update (only when the package lists are
# empty, or once after an install that could not find a package), then
# apt-get install -y, with services kept from starting while installing.
# Some missing, not root: prints the exact apt-get line and exits 1.
# DEPS_EXTRA adds packages too.
set -euo pipefail

pkgs=(
	gcc make pkg-config
	libhiredis-dev libevent-dev libjansson-dev check
	libssl-dev # TLS to Redis: OpenSSL under libevent_openssl (libevent-dev)
	redis-server
	python3 python3-pytest python3-pytest-timeout python3-msgpack
	systemd   # systemd-analyze verify, systemd-sysusers (tests)
	groff-base # man page checks
)

# msgpack-c: libmsgpack-dev up to Debian 12, libmsgpack-c-dev after.
msgpack_pkg() {
	local p
	for p in libmsgpack-c-dev libmsgpack-dev; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$'; then
			echo "$p"
			return
		fi
	done
	if apt-cache policy libmsgpack-c-dev 2>/dev/null | grep -q 'Candidate: [0-9]'; then
		echo libmsgpack-c-dev
	elif apt-cache policy libmsgpack-dev 2>/dev/null | grep -q 'Candidate: [0-9]'; then
		echo libmsgpack-dev
	else
		# No package lists to ask: go by the release.
		local v
		v=$(. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-0}")
		if [ "${v%%.*}" -ge 13 ] 2>/dev/null; then echo libmsgpack-c-dev; else echo libmsgpack-dev; fi
	fi
}

# shellcheck disable=SC2206
pkgs+=("$@" ${DEPS_EXTRA:-})

missing() {
	local installed
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk '$NF == "installed" { print $1 }' || true)
	local p
	for p in "$@"; do
		if ! grep -qx -- "$p" <<<"$installed"; then echo "$p"; fi
	done
}

mapfile -t need < <(missing "${pkgs[@]}")
if ! dpkg-query -W -f='${Status}' libmsgpack-dev 2>/dev/null | grep -q ' installed$' &&
	! dpkg-query -W -f='${Status}' libmsgpack-c-dev 2>/dev/null | grep -q ' installed$'; then
	need+=(msgpack)
fi

if [ ${#need[@]} -eq 0 ]; then
	echo "deps: ok"
	exit 0
fi

lists_empty() {
	! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

resolve() {
	local p out=()
	for p in "${need[@]}"; do
		if [ "$p" = msgpack ]; then out+=("$(msgpack_pkg)"); else out+=("$p"); fi
	done
	need=("${out[@]}")
}

if [ "$(id -u)" != 0 ]; then
	resolve
	echo "deps: missing: ${need[*]}" >&2
	echo "deps: run:" >&2
	echo "sudo apt-get install -y ${need[*]}"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
updated=0
if lists_empty; then
	echo "deps: apt-get update"
	apt-get update -q
	updated=1
fi
resolve
echo "deps: installing ${need[*]}"

# shellcheck source=mk/no-services.sh
. "$(dirname "$0")/no-services.sh"

install() { apt-get install -y -q --no-install-recommends "${need[@]}"; }
if ! install; then
	if [ "$updated" = 1 ]; then
		echo "deps: apt-get install failed" >&2
		exit 1
	fi
	echo "deps: apt-get install failed; apt-get update and one more try"
	apt-get update -q
	resolve
	install
fi

mapfile -t still < <(missing "${need[@]}")
if [ ${#still[@]} -gt 0 ]; then
	echo "deps: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "deps: ok (installed ${need[*]})"
