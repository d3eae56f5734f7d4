# no-services.sh: sourced by deps.sh and deps-valkey.sh before apt-get
# install. Keeps the packages' scripts from starting their services
# (redis-server, valkey-server): the tests start their own. Only when no
# policy-rc.d is in place already; removed again at exit.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	made_policy=1
fi
cleanup() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
