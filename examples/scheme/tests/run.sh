#!/bin/sh
# run.sh CONFIG -- run vmgc-scheme's test programs in one configuration and
# compare each one's output with its .out file.  Called by the *.test
# wrappers beside it (make check), from the top of the build tree.
#   NAME.scm        loaded as a program
#   repl-NAME.scm   fed to the REPL on standard input (errors are printed
#                   and the REPL goes on)
#   vmgc-NAME.scm   vmgc builds only (what Boehm GC cannot do: ephemerons)
# CONFIG: uffd | mprotect (the barrier backend), verify-uffd | verify-mprotect
# (verification on and a 256 KiB collection trigger, so that every program
# crosses many collections), boehm (the Boehm GC build).
set -u
config=${1:?usage: run.sh CONFIG}
here=$(cd "$(dirname "$0")" && pwd)
bin=examples/scheme/vmgc-scheme
unset VMGC_VERIFY SCHEME_HEAP_TRIGGER
case $config in
uffd | mprotect) export VMGC_BARRIER=$config ;;
verify-*)
    export VMGC_BARRIER=${config#verify-} VMGC_VERIFY=1 SCHEME_HEAP_TRIGGER=256K ;;
boehm) bin=examples/scheme/vmgc-scheme-boehm ;;
*) echo "run.sh: unknown configuration $config" >&2; exit 99 ;;
esac
if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is not built" >&2
    exit 99
fi
export VMGC_QUIET=1
# a hang fails the test, naming the program, instead of holding the suite
limit=${SCHEME_TEST_TIMEOUT:-300}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export SCHEME_TEST_TMP=$out # files.scm writes there
failed=0 ran=0
for prog in "$here"/*.scm; do
    name=$(basename "$prog" .scm)
    case $name in vmgc-*) [ "$config" = boehm ] && continue ;; esac
    # standard output is compared (the REPL prints its errors there); standard
    # error is shown on failure (a sanitizer's warnings may land there)
    case $name in
    repl-*) timeout -k 10 "$limit" "$bin" <"$prog" >"$out/$name" 2>"$out/$name.err" ;;
    *) timeout -k 10 "$limit" "$bin" "$prog" >"$out/$name" 2>"$out/$name.err" ;;
    esac
    status=$?
    ran=$((ran + 1))
    case $status in 124 | 137) echo "$name did not finish within $limit s (SCHEME_TEST_TIMEOUT)" >>"$out/$name.err" ;; esac
    if [ $status -ne 0 ] || ! cmp -s "$out/$name" "$here/$name.out"; then
        echo "FAIL $config $name (exit status $status):"
        diff "$here/$name.out" "$out/$name" | head -20
        head -20 "$out/$name.err"
        failed=$((failed + 1))
    else
        echo "ok   $config $name"
    fi
done
echo "$config: $ran programs, $failed failed"
[ $failed -eq 0 ]
