#!/bin/bash
# mk/run-unit.sh TEST...: runs each unit test program from the repository
# root, shows its output (Check's "100%: Checks: N, Failures: 0, Errors: 0"
# line included), and ends with "unit: N passed, N failed" summed over
# Check's counts. A program that exits non-zero without a Check failure
# (a crash, a sanitizer report) counts as one failure. Exits 1 when any
# failed, or when there is no test at all.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ $# -eq 0 ]; then
	echo "unit: no unit tests (tests/unit/test_*.c)" >&2
	exit 1
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
limit=${PULSE_UNIT_TIMEOUT:-600}
# On a terminal, keep the test in the foreground so that Ctrl-C reaches it.
fg=()
if [ -t 0 ]; then fg=(--foreground); fi
passed=0
failed=0
bad=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$@"; do
	echo "== $t"
	timeout "${fg[@]}" -k 5 "$limit" "$t" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	read -r n f < <(awk '
		/^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
			gsub(/,/, ""); n += $3; f += $5 + $7; seen = 1
		}
		END { print (seen ? n : -1), (seen ? f : 0) }' "$log")
	if [ "$n" -lt 0 ]; then
		# Not a Check program, or it died before its summary.
		if [ "$rc" -eq 0 ]; then n=1; f=0; else n=1; f=1; fi
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		n=$((n + 1))
		f=1
	fi
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "unit: $t timed out after ${limit}s"
	fi
	passed=$((passed + n - f))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] || [ "$f" -gt 0 ]; then bad+=("$t (exit $rc)"); fi
done

if [ ${#bad[@]} -gt 0 ]; then
	printf 'unit: FAILED: %s\n' "${bad[@]}"
fi
echo "unit: $passed passed, $failed failed"
[ ${#bad[@]} -eq 0 ]
