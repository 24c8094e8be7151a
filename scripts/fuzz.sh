#!/bin/sh
# fuzz.sh -- run the image reader's fuzz target under libFuzzer (clang) with
# AddressSanitizer for SECONDS (default 60), in build-fuzz/.  Prints
# libFuzzer's final statistics (executions).  Without clang it runs the
# mutation loop of tests/fuzz_image instead.  Design: doc/design/image.md.
set -eu
SECONDS_TO_RUN=${1:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz.sh: no clang: running the built-in mutation loop" >&2
    cd "$top/${BUILD:-build}" && make -s tests/fuzz_image && FUZZ_SECONDS=$SECONDS_TO_RUN ./tests/fuzz_image
    exit $?
fi
mkdir -p "$top/build-fuzz"
cd "$top/build-fuzz"
if [ ! -f Makefile ]; then
    "$top/configure" -q CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address"
fi
make -s libvmgc_core.la tests/fuzz_image >/dev/null
clang -g -O1 -fsanitize=fuzzer,address -DVMGC_LIBFUZZER -I. -I"$top/include" -I"$top/src" \
    "$top/tests/fuzz_image.c" .libs/libvmgc_core.a $(sed -n 's/^META_LIBS = //p' Makefile) \
    -lpthread -o fuzz_image_libfuzzer
mkdir -p corpus
VMGC_QUIET=1 ASAN_OPTIONS=detect_leaks=0 ./tests/fuzz_image --seed-to corpus/seed.img
ASAN_OPTIONS=detect_leaks=0 ./fuzz_image_libfuzzer -max_total_time="$SECONDS_TO_RUN" \
    -max_len=4000000 -print_final_stats=1 corpus 2>&1 | tail -n 25
