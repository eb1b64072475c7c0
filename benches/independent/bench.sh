#!/bin/bash
# bench.sh CAPTURE BINARY...
# Times (median of 3, wall clock, page cache warm), in one run:
#   cat CAPTURE > /dev/null
#   BINARY scan --format jsonl -o /dev/null -j 1 CAPTURE, and -j 2, for each BINARY
#   tshark -r CAPTURE -Y http.request -T fields -e http.host -e http.request.uri > /dev/null
# with peak RSS (/usr/bin/time -f %M), then checks that the JSON Lines of -j 1 and -j 2
# are byte-identical once the "summary" and "capture" lines are removed.
# MB = 10^6 bytes. Outputs of the comparison runs (--show-values) are kept in $OUT
# (default: beside the capture) as CAPTURE.<binary-tag>.j<N>.jsonl, for recall.py.
set -u
CAP=${1:?usage: bench.sh CAPTURE BINARY...}
shift
[ $# -ge 1 ] || { echo "usage: bench.sh CAPTURE BINARY..." >&2; exit 2; }
OUT=${OUT:-$(dirname "$CAP")}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SIZE=$(stat -c %s "$CAP")
TSHARK=${TSHARK:-tshark}

declare -a LABELS SECS RSS NOTES

# run_median LABEL CMD... : runs CMD 3 times; stdout of CMD goes to $TMP/out
run_median() {
    local label=$1; shift
    local times=() rsss=() rc=0 i s e
    for i in 1 2 3; do
        s=$(date +%s%N)
        /usr/bin/time -f %M -o "$TMP/rss" "$@" > "$TMP/out" 2> "$TMP/err"
        rc=$?
        e=$(date +%s%N)
        times+=($(( (e - s) / 1000 )))
        rsss+=($(tail -1 "$TMP/rss" | tr -dc 0-9))
    done
    local med_us=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
    local max_rss=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -1)
    LABELS+=("$label")
    SECS+=("$(awk -v u="$med_us" 'BEGIN{printf "%.3f", u/1e6}')")
    RSS+=("$max_rss")
    NOTES+=("rc=$rc runs=$(printf '%s ' "${times[@]}" | awk '{for(i=1;i<=NF;i++) printf "%s%.3f", (i>1?"/":""), $i/1e6}')")
    LAST_RC=$rc
}

echo "capture: $CAP ($SIZE bytes); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$CAP" > /dev/null   # warm the page cache
cat "$CAP" > /dev/null

run_median "cat" cat "$CAP"

for BIN in "$@"; do
    tag=$(basename "$BIN")
    [ -x "$BIN" ] || { echo "$BIN: not executable" >&2; continue; }
    for J in 1 2; do
        # does it accept -j N?
        "$BIN" scan -j "$J" --format jsonl -o /dev/null /dev/null > /dev/null 2> "$TMP/flagerr"
        if grep -qiE "unexpected argument|unrecognized|unknown (option|argument)|found argument '-j'" "$TMP/flagerr"; then
            echo "$BIN: does not accept -j $J: $(head -1 "$TMP/flagerr")"
            continue
        fi
        run_median "$tag -j $J" "$BIN" scan --format jsonl -o /dev/null -j "$J" "$CAP"
        if [ "$LAST_RC" -ge 2 ]; then
            echo "$BIN -j $J: exit code $LAST_RC: $(head -3 "$TMP/err")"
        fi
    done
    # for information: the same with values unmasked (masking has its own cost)
    if [ "${SHOW_VALUES_ROW:-1}" = 1 ]; then
        run_median "$tag -j 1 --show-values" "$BIN" scan --format jsonl --show-values -o /dev/null -j 1 "$CAP"
    fi
done

run_median "tshark http.request" "$TSHARK" -r "$CAP" -Y http.request -T fields -e http.host -e http.request.uri
TSHARK_REQS=$(wc -l < "$TMP/out")
TSHARK_S=${SECS[-1]}
CAT_S=${SECS[0]}

echo
printf "%-34s %9s %10s %10s %11s %12s  %s\n" "command" "seconds" "MB/s" "x cat" "x tshark" "peak RSS MB" "runs (s)"
for i in "${!LABELS[@]}"; do
    awk -v l="${LABELS[$i]}" -v s="${SECS[$i]}" -v size="$SIZE" -v c="$CAT_S" -v t="$TSHARK_S" \
        -v r="${RSS[$i]}" -v n="${NOTES[$i]}" 'BEGIN{
        printf "%-34s %9.3f %10.1f %10.4f %11.2f %12.1f  %s\n", l, s, size/1e6/s, c/s, t/s, r/1024, n}'
done
echo "(x cat = speed as a fraction of cat: cat_seconds/seconds; x tshark = tshark_seconds/seconds)"
echo "tshark found $TSHARK_REQS HTTP requests"

# identical output for -j 1 and -j 2 (timings aside)
echo
for BIN in "$@"; do
    tag=$(basename "$BIN")
    base="$OUT/$(basename "$CAP").$tag"
    ok=1
    for J in 1 2; do
        "$BIN" scan --format jsonl --show-values -j "$J" -o "$base.j$J.jsonl" "$CAP" 2> "$TMP/err$J"
        rc=$?
        [ $rc -ge 2 ] && { echo "$tag -j $J: exit code $rc: $(head -3 "$TMP/err$J")"; ok=0; }
    done
    [ $ok = 1 ] || continue
    for J in 1 2; do
        grep -v -e '"type":"summary"' -e '"type":"capture"' "$base.j$J.jsonl" > "$TMP/cmp$J"
    done
    if cmp -s "$TMP/cmp1" "$TMP/cmp2"; then same="byte-identical"; else same="DIFFERENT ($(cmp "$TMP/cmp1" "$TMP/cmp2" 2>&1 | head -1))"; fi
    summ=$(grep '"type":"summary"' "$base.j1.jsonl")
    reqs=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<< "$summ")
    nf=$(grep -c '"type":"finding"' "$base.j1.jsonl")
    ne=$(grep -c '"type":"error"' "$base.j1.jsonl")
    j1s=""; j2s=""
    for i in "${!LABELS[@]}"; do
        [ "${LABELS[$i]}" = "$tag -j 1" ] && j1s=${SECS[$i]}
        [ "${LABELS[$i]}" = "$tag -j 2" ] && j2s=${SECS[$i]}
    done
    echo "$tag: -j 1 vs -j 2 JSON Lines (without summary/capture lines): $same; lines $(wc -l < "$TMP/cmp1") / $(wc -l < "$TMP/cmp2")"
    echo "$tag: $reqs requests, $nf findings, $ne error lines (from -j 1 output)"
    if [ -n "$j1s" ]; then
        awk -v s="$j1s" -v r="$reqs" -v f="$nf" 'BEGIN{printf "  -j 1: %.0f requests/s, %.0f findings/s\n", r/s, f/s}'
    fi
    if [ -n "$j1s" ] && [ -n "$j2s" ]; then
        awk -v a="$j1s" -v b="$j2s" 'BEGIN{printf "  -j 2 speed-up over -j 1: %.2fx\n", a/b}'
    fi
    echo "  summary -j 1: $summ"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
