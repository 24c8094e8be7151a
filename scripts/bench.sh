#!/usr/bin/env bash
# README command (1): set up, build, and run the main job, the benchmark
# suite (benchmarks/suite.sh) in its quick setting: every workload against
# vmgc (both barriers), Boehm GC (both modes), glibc malloc and jemalloc.
# Table on stdout; CSV, Markdown and PNG plots in build-bench/bench-results/.
#   scripts/bench.sh [suite options, e.g. --size full]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
./scripts/setup-debian.sh
[ -x configure ] || autoreconf -fi
mkdir -p build-bench
cd build-bench
[ -f Makefile ] || ../configure -q
make -s -j"$(nproc 2>/dev/null || echo 2)"
../benchmarks/suite.sh --build . "$@"
