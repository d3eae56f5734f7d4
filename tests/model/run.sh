#!/bin/bash
# run.sh SET [NAME...]: check the configurations of configs.txt whose set
# is SET (short or full; full runs short's too), or only those NAMEs.
# For each: spin -a with the configuration's switches, the verifier built
# with gcc -O0 (its source is one large function that gcc -O2 takes minutes
# to compile; -O0 takes seconds and verifies at about 40,000 states/s),
# then pan. A configuration expected to pass must end with no error and a
# complete search; one expected to fail must find an error: its trail is
# then replayed (spin -t) into NAME.trace, the printf lines of every step.
# Output in $MODEL_BUILD (default build/model); MODEL_RECORD=1 also copies
# the traces to tests/model/traces/. Runs one verifier at a time.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${MODEL_BUILD:-$root/build/model}
set_=${1:?usage: run.sh short|full [NAME...]}
shift
want=" $* "
mkdir -p "$out"
summary="$out/summary-$set_.txt"
: > "$summary"
bad=0
while read -r cset name expect timeout mode flags; do
	case "$cset" in '#'*|'') continue ;; esac
	if [ -n "$*" ]; then
		case "$want" in *" $name "*) ;; *) continue ;; esac
	elif [ "$set_" = short ] && [ "$cset" != short ]; then
		continue
	fi
	d="$out/$name"
	rm -rf "$d"
	mkdir -p "$d"
	cp "$here/pulse.pml" "$d/"
	# shellcheck disable=SC2086
	(cd "$d" && spin $flags -a pulse.pml > spin.log 2>&1) || { echo "model: $name: spin -a failed" >&2; cat "$d/spin.log" >&2; bad=1; continue; }
	case "$mode" in
	safety) cc="-DSAFETY -DNOCLAIM -DCOLLAPSE"; run="-m300000 -w26" ;;
	# first: the first counterexample, not shortened by pan -i
	first)  cc="-DSAFETY -DNOCLAIM -DCOLLAPSE"; run="-m300000 -w26" ;;
	live)   cc="-DNFAIR=3 -DCOLLAPSE"; run="-a -f -m300000 -w26" ;;
	# partial: bitstate (one bit per state hash, 2^32 bits), stopped at
	# the timeout: a search for errors, not a proof (README.md says which)
	partial) cc="-DSAFETY -DNOCLAIM -DBITSTATE"; run="-m300000 -w32 -k3" ;;
	*) echo "model: $name: unknown mode $mode" >&2; bad=1; continue ;;
	esac
	[ "$expect" = fail ] && [ "$mode" != first ] && { run="$run -i"; cc="$cc -DREACH"; }
	# shellcheck disable=SC2086
	(cd "$d" && gcc -O0 -w $cc -DMEMLIM=8000 -o pan pan.c) || { echo "model: $name: gcc failed" >&2; bad=1; continue; }
	start=$(date +%s)
	# shellcheck disable=SC2086
	(cd "$d" && /usr/bin/time -f "wall %e s, max RSS %M KB" timeout "$timeout" ./pan $run > pan.out 2>&1)
	rc=$?
	secs=$(( $(date +%s) - start ))
	errs=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.out" | tail -1)
	stored=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$d/pan.out" | tail -1)
	[ -n "$stored" ] || stored=$(sed -n 's/.*States= *\([0-9.e+]*\).*/\1/p' "$d/pan.out" | tail -1)
	trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' "$d/pan.out" | tail -1)
	mem=$(sed -n 's/^ *\([0-9.]*\).total actual memory usage.*/\1/p' "$d/pan.out" | tail -1)
	incomplete=0
	grep -q "Search not completed" "$d/pan.out" && [ "${errs:-0}" = 0 ] && incomplete=1
	[ $rc -eq 124 ] && incomplete=1
	line="$name: expect $expect, errors ${errs:-?}, ${stored:-?} states, ${trans:-?} transitions, ${mem:-?} MB, ${secs} s ($mode: $flags)"
	verdict=ok
	if [ "$expect" = pass ] && [ "$mode" = partial ]; then
		if [ -f "$d/pulse.pml.trail" ] || { [ -n "$errs" ] && [ "$errs" != 0 ]; }; then verdict=FAILED; fi
		[ $incomplete = 1 ] && line="$line, partial search stopped at its timeout"
		incomplete=0
	elif [ "$expect" = pass ]; then
		if [ "${errs:-1}" != 0 ] || [ $incomplete = 1 ]; then verdict=FAILED; fi
	else
		# pan -i goes on shortening the trail until its timeout: the
		# last trail written is the shortest found
		if [ ! -f "$d/pulse.pml.trail" ]; then verdict=FAILED; fi
	fi
	if [ -f "$d/pulse.pml.trail" ]; then
		# shellcheck disable=SC2086
		(cd "$d" && spin -t $flags pulse.pml 2>&1 |
			grep -E '^ +(\[t[0-9]+\]|VIOLATION|spin: .*assert)' | sed 's/^ *//' |
			grep -v -- '---- tick$' > "$name.trace")
		[ "${MODEL_RECORD:-0}" = 1 ] && mkdir -p "$here/traces" &&
			{ echo "# $name: $flags (expect $expect)"; cat "$d/$name.trace"; } > "$here/traces/$name.txt"
	fi
	[ $incomplete = 1 ] && [ "$expect" = pass ] && line="$line, search not completed (timeout $timeout s)"
	echo "model: $verdict $line" | tee -a "$summary"
	if [ "$verdict" != ok ]; then
		bad=1
		[ -f "$d/$name.trace" ] && { echo "  trace ($d/$name.trace):"; sed 's/^/    /' "$d/$name.trace" | tail -40; }
	fi
done < "$here/configs.txt"
exit $bad
