#!/usr/bin/env bash
# README command (1): set up, build, and run the main job.  Until the
# allocation benchmark suite exists, the main job is the Appel-Li VM
# primitive table (benchmarks/vmprims): Markdown on stdout, CSV in
# build-bench/vmprims.csv.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
./scripts/setup-debian.sh
[ -x configure ] || autoreconf -fi
mkdir -p build-bench
cd build-bench
[ -f Makefile ] || ../configure -q
make -s -j"$(nproc 2>/dev/null || echo 2)"
./benchmarks/vmprims --repeat "${VMPRIMS_REPEAT:-7}" --csv vmprims.csv
