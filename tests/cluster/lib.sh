# Shared by slurm.sh and kubernetes.sh (sourced): messages, and the
# comparison of a merged report with the single run's.

name=${0##*/}
say() { echo "$name: $*"; }
die() { echo "$name: FAIL: $*" >&2; exit 1; }

# A report without what differs from one run to the next: the capture
# records' and summary's elapsed_seconds, the summary's peak_memory_bytes
# (JSON Lines and the SARIF run's properties). Nothing else may.
untimed() {
    sed -E 's/"elapsed_seconds": ?[-+.0-9eE]+,?//g; s/"peak_memory_bytes": ?([0-9]+|null),?//g' "$1"
}

# same_report SINGLE MERGED WHAT: dies with the start of their difference
# unless the two reports are the same once untimed.
same_report() {
    local d
    d=$(mktemp)
    if ! diff <(untimed "$1") <(untimed "$2") > "$d"; then
        { head -c 4000 "$d"; echo; } >&2
        rm -f "$d"
        die "$3 (diff above)"
    fi
    rm -f "$d"
}
