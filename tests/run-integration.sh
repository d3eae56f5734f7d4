#!/bin/bash
# tests/run-integration.sh [PYTEST-ARG...]: runs the pytest suite in
# tests/integration (or $PULSE_TEST_DIR: a directory, or test files
# separated by spaces) against the build in $PULSE_BUILD
# (default build/, made absolute), with Debian's /usr/bin/python3: the
# python3 on PATH may be a pyenv shim that cannot see python3-pytest and
# python3-msgpack. Exits with pytest's status, except that "no tests
# collected" (5) is a failure (1). Each test gets PULSE_TEST_TIMEOUT
# seconds (default 300; 0 turns it off) through pytest-timeout.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

build=${PULSE_BUILD:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
export PULSE_BUILD=$build
export PULSE_SRC=$root
dir=${PULSE_TEST_DIR:-tests/integration}
py=/usr/bin/python3

if [ ! -x "$build/pulsed" ]; then
	echo "run-integration: $build/pulsed is missing: run 'make' first" >&2
	exit 1
fi
if ! "$py" -c 'import pytest, msgpack' 2>/dev/null; then
	echo "run-integration: $py lacks pytest or msgpack: run 'make deps'" >&2
	exit 1
fi

args=(-q -p no:cacheprovider)
timeout=${PULSE_TEST_TIMEOUT:-300}
if [ "$timeout" != 0 ] && "$py" -c 'import pytest_timeout' 2>/dev/null; then
	args+=(--timeout="$timeout")
fi

# Sanitizer builds: report and fail on the first UBSan finding too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export PYTHONDONTWRITEBYTECODE=1

read -ra dirs <<< "$dir"
"$py" -m pytest "${args[@]}" "${dirs[@]}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
	echo "run-integration: no tests were collected in $dir: failing" >&2
	exit 1
fi
exit "$rc"
