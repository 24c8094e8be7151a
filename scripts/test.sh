#!/usr/bin/env bash
# Set up (Debian packages), build, and run the whole test suite:
#   1. make check (every backend-dependent suite runs each test with both
#      barrier backends, uffd and mprotect);
#   2. make check again with VMGC_BARRIER forcing each backend, so the
#      environment override is exercised; a vmprims smoke run and one repeat
#      of the quick benchmark suite (tables and plots must come out);
#   3. make check under AddressSanitizer+UBSan and under ThreadSanitizer
#      (separate build directories);
#   4. a build with --with-metadata-malloc=libc;
#   5. the stress, fork and checkpoint suites with vm.max_map_count lowered to 1000 (a
#      system-wide setting, so alone, and put back after; needs root);
#   6. the image reader's fuzz target for 60 s (scripts/fuzz.sh: libFuzzer
#      and ASan with clang, else a mutation loop of its own);
#   7. make distcheck.
# Prints the totals as one line "N passed, N failed" at the end.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./scripts/setup-debian.sh || { echo "0 passed, 1 failed"; exit 1; }

jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0

# count PASS/FAIL lines of an Automake test-suite.log summary
tally() { # $1: build dir, $2: label, $3: make exit status
    local log="$1/test-suite.log" p f e
    if [ -f "$log" ]; then
        p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
        f=$(sed -n 's/^# FAIL: *//p' "$log" | head -1)
        e=$(sed -n 's/^# ERROR: *//p' "$log" | head -1)
        p=${p:-0}; f=$(( ${f:-0} + ${e:-0} ))
    else
        p=0; f=1
    fi
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    echo "== $2: $p passed, $f failed"
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ] && [ -f "$log" ]; then cat "$log"; fi
}

build() { # $1: dir, rest: configure args
    local dir=$1; shift
    mkdir -p "$dir" && (cd "$dir" && "$top/configure" -q "$@" >/dev/null && make -s -j"$jobs" >/dev/null)
}

bench_smoke() { # $1: output dir
    rm -rf "$1"
    benchmarks/suite.sh --build build-ci --size quick --repeat 1 --out "$1" >"$1.log" 2>&1 || return 1
    local f
    for f in results.csv summary.csv table.md pauses.png mmu.png time.png memory.png; do
        [ -s "$1/$f" ] || { echo "bench smoke: $1/$f is missing or empty" >>"$1.log"; return 1; }
    done
}

[ -x configure ] || autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; echo "0 passed, 1 failed"; exit 1; }

if build build-ci; then
    (cd build-ci && make -s -j"$jobs" check >/dev/null 2>&1); tally build-ci "check (both backends per test)" $?
    for b in uffd mprotect; do
        (cd build-ci && VMGC_BARRIER=$b make -s -j"$jobs" check >/dev/null 2>&1); tally build-ci "check with VMGC_BARRIER=$b" $?
    done
    (cd build-ci && ./benchmarks/vmprims --repeat 1 --pages 256 --csv vmprims-smoke.csv >/dev/null)
    st=$?; if [ $st -eq 0 ]; then passed=$((passed + 1)); echo "== vmprims smoke run: ok"; else failed=$((failed + 1)); echo "== vmprims smoke run: FAILED"; fi
    # the benchmark suite end to end (README command 1's job): one repeat of the
    # quick setting, every workload and system; the tables and plots must exist
    if bench_smoke build-ci/bench-smoke; then
        passed=$((passed + 1)); echo "== benchmark suite smoke run: ok"
    else
        failed=$((failed + 1)); echo "== benchmark suite smoke run: FAILED"; tail -20 build-ci/bench-smoke.log
    fi
else
    echo "== build failed"; failed=$((failed + 1))
fi

if build build-asan --enable-sanitizer=address; then
    (cd build-asan && VMGC_STRESS_CYCLES=10 CK_TIMEOUT_MULTIPLIER=4 ASAN_OPTIONS=allow_user_segv_handler=1:handle_segv=0:handle_sigbus=0:detect_leaks=0:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make -s -j"$jobs" check >/dev/null 2>&1)
    tally build-asan "check under ASan+UBSan" $?
else
    echo "== ASan build failed"; failed=$((failed + 1))
fi

# jemalloc is not instrumented for TSan (its internal trylocks read as double
# locks), so the TSan build uses the libc metadata allocator.
if build build-tsan --enable-sanitizer=thread --with-metadata-malloc=libc; then
    (cd build-tsan && VMGC_STRESS_CYCLES=10 CK_TIMEOUT_MULTIPLIER=4 TSAN_OPTIONS=handle_segv=0:handle_sigbus=0:halt_on_error=1:allocator_may_return_null=1:die_after_fork=0 make -s -j"$jobs" check >/dev/null 2>&1)
    tally build-tsan "check under TSan" $?
else
    echo "== TSan build failed"; failed=$((failed + 1))
fi

# the libc metadata allocator option builds and passes too
if build build-libc --with-metadata-malloc=libc; then
    (cd build-libc && make -s -j"$jobs" check >/dev/null 2>&1); tally build-libc "check with --with-metadata-malloc=libc" $?
else
    echo "== libc-metadata build failed"; failed=$((failed + 1))
fi

# vm.max_map_count at 1000: both backends still run, the mprotect one in
# coarser units, the uffd one unmapping from-space where it cannot hide it
map_count_run() {
    local old st
    [ "$(id -u)" -eq 0 ] || { echo "needs root to lower vm.max_map_count" >build-ci/map-count.log; return 1; }
    old=$(cat /proc/sys/vm/max_map_count) || return 1
    echo 1000 >/proc/sys/vm/max_map_count || return 1
    (cd build-ci && VMGC_STRESS_CYCLES=20 VMGC_STRESS_NO_HELPERS=1 ./tests/test_stress && ./tests/test_fork &&
        ./tests/test_checkpoint) \
        >build-ci/map-count.log 2>&1
    st=$?
    echo "$old" >/proc/sys/vm/max_map_count
    return $st
}
if map_count_run; then
    passed=$((passed + 1)); echo "== stress and fork with vm.max_map_count=1000: ok"
else
    failed=$((failed + 1)); echo "== stress and fork with vm.max_map_count=1000: FAILED"; tail -20 build-ci/map-count.log
fi

# the image reader under libFuzzer with ASan (clang; else the mutation loop)
if BUILD=build-ci ./scripts/fuzz.sh 60 >build-ci/fuzz.log 2>&1; then
    passed=$((passed + 1)); echo "== image reader fuzzing, 60 s: ok ($(sed -n 's/^stat::number_of_executed_units: *//p; s/^fuzz_image: \([0-9]*\) executions.*/\1/p' build-ci/fuzz.log) executions)"
else
    failed=$((failed + 1)); echo "== image reader fuzzing: FAILED"; tail -40 build-ci/fuzz.log
fi

if (cd build-ci && make -s distcheck >distcheck.log 2>&1); then
    passed=$((passed + 1)); echo "== distcheck: ok"
else
    failed=$((failed + 1)); echo "== distcheck: FAILED"
    # the failing suite's own log, else the end of make's output
    log=$(find build-ci -path '*_build*' -name 'test_*.log' -exec grep -l -E '^(FAIL|ERROR):' {} + 2>/dev/null | head -1)
    if [ -n "$log" ]; then tail -20 "$log"; else tail -30 build-ci/distcheck.log; fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
