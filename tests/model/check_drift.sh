#!/bin/sh
# check_drift.sh: the model (pulse.pml) must follow daemon/lua/*.lua.
#
# scripts.sha256 records, for each Lua script the model stands for, its
# sha256 and the model step(s) that stand for it. This check fails, naming
# the script and the step to revisit, when a script's hash differs from the
# record, when a recorded script is gone, or when daemon/lua/ holds a
# script that is neither recorded nor listed as not modelled. After the
# model step was checked against the new script (and the model re-run:
# make model-check), record the new hashes deliberately:
#
#     make model-hashes          (or: tests/model/check_drift.sh --update)
#
# Usage: check_drift.sh [--update] (from anywhere; paths are the repo's).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rec="$here/scripts.sha256"
cd "$root"

# Scripts of daemon/lua/ the model does not stand for (tickers, schedules,
# shutdown, views): no ownership step of the model depends on them.
NOT_MODELLED="clocks.lua keys.lua shutdown.lua tick.lua workers.lua leave.lua orphans.lua"

if [ "${1:-}" = "--update" ]; then
	tmp="$rec.tmp"
	grep '^#' "$rec" > "$tmp"
	grep -v '^#' "$rec" | while read -r sum file steps; do
		[ -f "$file" ] || { echo "check_drift: $file is gone: remove its line from $rec" >&2; exit 1; }
		new=$(sha256sum "$file" | cut -d' ' -f1)
		[ "$new" = "$sum" ] || echo "model-hashes: $file recorded anew (model step: $steps)"
		printf '%s  %s  %s\n' "$new" "$file" "$steps" >> "$tmp"
	done
	mv "$tmp" "$rec"
	exit 0
fi

fail=0
while read -r sum file steps; do
	case "$sum" in '#'*|'') continue ;; esac
	if [ ! -f "$file" ]; then
		echo "model drift: $file is gone; revisit the model step $steps in tests/model/pulse.pml" >&2
		fail=1
		continue
	fi
	now=$(sha256sum "$file" | cut -d' ' -f1)
	if [ "$now" != "$sum" ]; then
		echo "model drift: $file changed since the model was checked against it;" >&2
		echo "  revisit the model step $steps in tests/model/pulse.pml," >&2
		echo "  run make model-check, then record it with make model-hashes" >&2
		fail=1
	fi
	base=$(basename "$file")
	if ! grep -q "$base" "$here/pulse.pml"; then
		echo "model drift: no step of tests/model/pulse.pml names $base" >&2
		fail=1
	fi
done < "$rec"
for f in daemon/lua/*.lua; do
	base=$(basename "$f")
	grep -q "  $f  " "$rec" && continue
	case " $NOT_MODELLED " in *" $base "*) continue ;; esac
	echo "model drift: $f is a new script: model it in tests/model/pulse.pml and" >&2
	echo "  add it to tests/model/scripts.sha256, or list it in NOT_MODELLED in $0" >&2
	fail=1
done
[ $fail -eq 0 ] && echo "model drift: none (daemon/lua matches tests/model/scripts.sha256)"
exit $fail
