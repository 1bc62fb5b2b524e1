#!/bin/sh
# zo-bench engine --timeline-svg writes a well-formed SVG of one step: it starts with
# <svg, ends with </svg>, and names every lane. Usage: check_timeline_svg.sh ZO_BENCH
# CONFIG. Speed is not checked.
set -eu
bench=$1
config=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bench" engine --params 1M --layers 4 --steps 2 --repeats 1 --config "$config" \
    --timeline-svg "$dir/step.svg" >"$dir/out.txt"
fail() { echo "check_timeline_svg: $*" >&2; cat "$dir/out.txt" >&2; exit 1; }
[ -s "$dir/step.svg" ] || fail "no SVG written"
head -c 4 "$dir/step.svg" | grep -q '^<svg' || fail "the file does not start with <svg"
[ "$(tail -n 1 "$dir/step.svg")" = "</svg>" ] || fail "the file does not end with </svg>"
for lane in '>loop<' '>fetches<' '>copies down<' '>host update<' '>copies up<' '>ms<'; do
    grep -q "$lane" "$dir/step.svg" || fail "no lane label $lane"
done
grep -q 'stall in fetch' "$dir/step.svg" || fail "no stall span or legend"
grep -q 'timeline: the last timed step drawn to' "$dir/out.txt" || fail "the report does not say where the timeline went"
echo "check_timeline_svg: $dir/step.svg well-formed, every lane named"
