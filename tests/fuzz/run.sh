#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan in build-fuzz/ (once) and
# fuzzes one for a bounded time. Usage: tests/fuzz/run.sh NAME [SECONDS, default 60].
# New inputs go to build-fuzz/corpus-NAME/. A crash stops it with a non-zero status and
# leaves the input in build-fuzz/artifacts-NAME/: copy that file into
# tests/fuzz/NAME_corpus/ (from then on every build replays it) and fix the bug.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: tests/fuzz/run.sh NAME [SECONDS]}
seconds=${2:-60}
build=${ZO_FUZZ_BUILD_DIR:-build-fuzz}

if [[ ! -f "$build/build.ninja" ]]; then
    # clang's sanitizer runtimes link into the programs, not the shared library
    CC=clang meson setup "$build" -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debugoptimized -Dcuda=disabled -Dmpi=disabled -Dnccl=disabled -Dtests=disabled >/dev/null
fi
meson compile -C "$build" "fuzz_$name" >/dev/null

mkdir -p "$build/corpus-$name" "$build/artifacts-$name"
dict=()
[[ -f "tests/fuzz/$name.dict" ]] && dict=("-dict=tests/fuzz/$name.dict")
log="$build/fuzz-$name.log"
if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$build/artifacts-$name/" \
    "$build/corpus-$name" "tests/fuzz/${name}_corpus" 2>"$log"; then
    tail -n 60 "$log" >&2
    echo "fuzz_$name failed; the input is in $build/artifacts-$name/" >&2
    exit 1
fi
echo "fuzz_$name: $(grep -E '^Done [0-9]+ runs' "$log"), $(grep -c . < <(ls "$build/corpus-$name")) inputs in its corpus, no crash"
