#!/bin/bash
# tests/bench/run.sh [BENCH-ARG...]: what `make bench` runs: every figure of
# DESIGN.md section 4 on real processes (tests/bench/bench.py), with
# Debian's /usr/bin/python3 (the python3 on PATH may be a pyenv shim that
# cannot see python3-msgpack), against the build in $PULSE_BUILD
# (default build/). Writes $PULSE_BUILD/bench.json. BENCH_ARGS adds
# arguments, e.g. BENCH_ARGS=--quick or BENCH_ARGS='--only refs,latency'.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
build=${PULSE_BUILD:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac
export PULSE_BUILD=$build
export PYTHONDONTWRITEBYTECODE=1
# shellcheck disable=SC2086
exec /usr/bin/python3 tests/bench/bench.py --json "$build/bench.json" ${BENCH_ARGS:-} "$@"
