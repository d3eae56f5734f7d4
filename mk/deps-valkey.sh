#!/bin/bash
# mk/deps-valkey.sh: makes sure valkey-server (and valkey-cli, from
# valkey-tools) is installed, for `make integration-valkey`. Opt-in: make
# deps and make test never call it.
#
# Debian 12 (bookworm) has Valkey only in bookworm-backports. As root,
# when valkey-server is missing: adds a deb822 source for
# bookworm-backports (/etc/apt/sources.list.d/bookworm-backports.sources)
# unless some source already names that suite, runs apt-get update (only
# when it added the source or apt does not know valkey-server yet) and
# installs valkey-server from it, with services kept from starting.
# Debian 13 and later have valkey-server in the release itself: no source
# is added there. Not root: prints what to run and exits 1.
# Installed already: prints "deps-valkey: ok" (no apt at all).
set -euo pipefail

have() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'
}

if have valkey-server && command -v valkey-server >/dev/null && command -v valkey-cli >/dev/null; then
	echo "deps-valkey: ok ($(valkey-server --version | head -1))"
	exit 0
fi

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
src=/etc/apt/sources.list.d/bookworm-backports.sources
need_bpo=0
if [ "$codename" = bookworm ]; then
	need_bpo=1
fi

bpo_known() {
	# a source apt reads (sources.list, *.list, *.sources) that names the
	# suite already, outside comments
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		if grep -v '^[[:space:]]*#' "$f" | grep -qE '(^|[[:space:]])bookworm-backports([[:space:]]|$)'; then
			return 0
		fi
	done
	return 1
}

if [ "$(id -u)" != 0 ]; then
	echo "deps-valkey: valkey-server is missing; as root run:" >&2
	if [ "$need_bpo" = 1 ] && ! bpo_known; then
		cat >&2 <<EOF
cat > $src <<'EOS'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
apt-get update
EOF
	fi
	if [ "$need_bpo" = 1 ]; then
		echo "apt-get install -y -t bookworm-backports valkey-server" >&2
	else
		echo "apt-get install -y valkey-server" >&2
	fi
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
update=0
if [ "$need_bpo" = 1 ] && ! bpo_known; then
	echo "deps-valkey: adding $src"
	cat > "$src" <<'EOF'
# Added by pulsed's `make deps-valkey` (mk/deps-valkey.sh): valkey-server
# for `make integration-valkey`. Backports have priority 100: nothing else
# is taken from here unless asked for with -t bookworm-backports.
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	update=1
fi
if ! apt-cache policy valkey-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	update=1
fi
if [ "$update" = 1 ]; then
	echo "deps-valkey: apt-get update"
	apt-get update -q
fi

# shellcheck source=mk/no-services.sh
. "$(dirname "$0")/no-services.sh"

target=()
if [ "$need_bpo" = 1 ]; then
	target=(-t bookworm-backports)
fi
echo "deps-valkey: apt-get install ${target[*]} valkey-server"
apt-get install -y -q --no-install-recommends "${target[@]}" valkey-server

if ! command -v valkey-server >/dev/null || ! command -v valkey-cli >/dev/null; then
	echo "deps-valkey: valkey-server or valkey-cli still missing after install" >&2
	exit 1
fi
echo "deps-valkey: ok (installed $(valkey-server --version | head -1))"
