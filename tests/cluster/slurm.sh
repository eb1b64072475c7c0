#!/usr/bin/env bash
# A real Slurm in the tests: starts a one-node cluster on this machine
# (munged, slurmctld, slurmd, as root, no systemd), submits
# examples/slurm/scan-array.sbatch over the corpus in 4 shards and
# examples/slurm/merge.sbatch after it (--dependency=afterany), waits, and
# checks that the merged JSON Lines are what one `teleaudit scan --format
# jsonl` of the corpus writes, byte for byte but for the timings
# (`elapsed_seconds`, `peak_memory_bytes`), with the same exit code.
#
# Installs slurm-wlm and munge from Debian if missing (services kept from
# starting). Everything else lives in a temporary folder: configuration,
# munge key and socket, state, spool, logs, pid files, on their own ports;
# the daemons it started are stopped by their pids on the way out, however
# it ends. Environment: TELEAUDIT (the binary, default target/debug/teleaudit),
# TELEAUDIT_CORPUS (default ../shared/corpus), KEEP=1 to keep the folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
TELEAUDIT=${TELEAUDIT:-$repo/target/debug/teleaudit}
corpus=${TELEAUDIT_CORPUS:-$repo/../shared/corpus}
shards=4
wait_secs=600

say() { echo "slurm.sh: $*"; }
die() { echo "slurm.sh: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: it starts slurmctld, slurmd and munged"
[ -x "$TELEAUDIT" ] || die "no teleaudit binary at $TELEAUDIT (cargo build first, or set TELEAUDIT)"
[ -d "$corpus" ] || die "no corpus at $corpus (set TELEAUDIT_CORPUS)"
corpus=$(cd "$corpus" && pwd)
TELEAUDIT=$(cd "$(dirname "$TELEAUDIT")" && pwd)/$(basename "$TELEAUDIT")

# --- packages --------------------------------------------------------------
missing=
for tool in munged slurmctld slurmd sbatch; do
    command -v "$tool" >/dev/null || missing=1
done
if [ -n "$missing" ]; then
    say "installing slurm-wlm and munge (Debian packages)"
    # Their maintainer scripts would start the services; a policy-rc.d that
    # says no keeps them stopped (put here only for the install, if absent).
    policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy=1
    fi
    status=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends slurm-wlm munge; } > /tmp/slurm.sh-apt.log 2>&1 || status=$?
    [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
    if [ "$status" -ne 0 ]; then
        tail -n 30 /tmp/slurm.sh-apt.log >&2
        die "apt-get install slurm-wlm munge failed ($status)"
    fi
    rm -f /tmp/slurm.sh-apt.log
fi
say "$(slurmctld -V), munge $(munged --version 2>&1 | awk '{print $2; exit}')"

# --- the cluster -----------------------------------------------------------
tmp=$(mktemp -d /tmp/teleaudit-slurm.XXXXXX)
chmod 700 "$tmp"
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/work" "$tmp/out"
pids=()
names=()
ok=

show_logs() {
    local f
    for f in "$tmp"/slurmctld.log "$tmp"/slurmd.log "$tmp"/munge/munged.log \
             "$tmp"/*.stderr "$tmp"/work/*.out; do
        [ -s "$f" ] || continue
        echo "----- ${f#"$tmp"/} (last 40 lines)"
        tail -n 40 "$f"
    done
}

cleanup() {
    local code=$? i pid n
    trap - EXIT INT TERM
    if [ -z "$ok" ] && [ -d "$tmp" ]; then
        echo "slurm.sh: logs, in $tmp:" >&2
        show_logs >&2
    fi
    # Jobs first, so that no slurmstepd outlives its slurmd.
    if [ -n "${jobs_submitted:-}" ]; then
        scancel "${jobs_submitted[@]}" 2>/dev/null || true
        for _ in $(seq 20); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    # A step's slurmstepd ends a moment after its job, on its own; it
    # keeps a socket in the spool folder until then.
    for _ in $(seq 50); do
        compgen -G "$tmp/spool/${node:-}_*" > /dev/null || break
        sleep 0.2
    done
    # Then the daemons, last started first, each by its pid.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill "$pid" 2>/dev/null || continue
        for n in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "${names[i]} ($pid) did not stop on SIGTERM: SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    [ "${#pids[@]}" -eq 0 ] || say "stopped ${names[*]}"
    if [ -n "${KEEP:-}" ]; then
        say "kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME COMMAND...: a daemon in the foreground of a background job, so
# that its pid is ours and not read back from a pid file.
start() {
    local name=$1
    shift
    "$@" > "$tmp/$name.stderr" 2>&1 &
    pids+=("$!")
    names+=("$name")
    say "started $name (pid $!)"
}

node=$(hostname -s)
cpus=$(nproc)
socket=$tmp/munge/munge.socket
# Ports away from the defaults (6817, 6818), should a Slurm already run here.
ctld_port=16817
slurmd_port=16818

dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
start munged munged --foreground --force \
    --socket="$socket" --key-file="$tmp/munge/munge.key" \
    --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
    --seed-file="$tmp/munge/munged.seed"
for _ in $(seq 50); do
    [ -S "$socket" ] && break
    sleep 0.1
done
[ -S "$socket" ] || die "munged did not open its socket"
munge -S "$socket" -n | unmunge -S "$socket" > /dev/null || die "munge cannot check its own credential"

export SLURM_CONF=$tmp/slurm.conf
cat > "$SLURM_CONF" <<EOF
# One node, this machine; written by tests/cluster/slurm.sh.
ClusterName=teleaudit-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1024 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

start slurmctld slurmctld -D -i -f "$SLURM_CONF"
start slurmd slurmd -D -N "$node" -f "$SLURM_CONF"

say "waiting for node $node to be idle"
state=
for _ in $(seq 60); do
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    for i in "${!pids[@]}"; do
        kill -0 "${pids[i]}" 2>/dev/null || die "${names[i]} exited"
    done
    sleep 1
done
[ "$state" = idle ] || die "node $node is '${state:-not known}' after 60 s, not idle"
say "node $node idle, $cpus CPUs"

# --- the recipe, as a user runs it -------------------------------------------
# Only what a one-node test needs is overridden on the command line: 4
# shards two at a time, one core and little memory each.
export CAPTURES=$corpus OUT=$tmp/out TELEAUDIT
cd "$tmp/work"
array=$(sbatch --parsable --array=0-$((shards - 1))%2 --cpus-per-task=1 --mem=256M --time=10 \
    "$repo/examples/slurm/scan-array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterany:"$array" --mem=256M --time=10 \
    "$repo/examples/slurm/merge.sbatch")
merge=${merge%%;*}
jobs_submitted=("$array" "$merge")
say "submitted array job $array (shards 0-$((shards - 1)), 2 at a time) and merge job $merge (afterany:$array)"
cd "$repo"

# job_field JOB FIELD: FIELD=... of `scontrol show job`, one line per task.
job_field() {
    scontrol -o show job "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | cut -d= -f2-
}

final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)$'
last=
start_time=$SECONDS
while :; do
    now="array: $(job_field "$array" JobState | sort | uniq -c | xargs); merge: $(job_field "$merge" JobState)"
    [ "$now" = "$last" ] || say "$((SECONDS - start_time)) s: $now"
    last=$now
    [[ "$(job_field "$merge" JobState)" =~ $final ]] && break
    [ $((SECONDS - start_time)) -lt "$wait_secs" ] || die "jobs not done after $wait_secs s"
    sleep 1
done

say "array tasks: $(scontrol -o show job "$array" | grep -o 'ArrayTaskId=[^ ]*\|JobState=[^ ]*\|ExitCode=[^ ]*' | paste -d' ' - - - | sed 's/ArrayTaskId=//' | tr '\n' ';')"
merge_state=$(job_field "$merge" JobState)
merge_exit=$(job_field "$merge" ExitCode)
say "merge job: $merge_state, exit code $merge_exit"
[ "$merge_state" = COMPLETED ] || [ "$merge_state" = FAILED ] || die "merge job $merge_state"
# ExitCode=STATUS:SIGNAL
[ "${merge_exit#*:}" = 0 ] || die "merge job killed by signal ${merge_exit#*:}"
merge_exit=${merge_exit%%:*}
for i in $(seq 0 $((shards - 1))); do
    [ -s "$tmp/out/shard-$i.jsonl" ] || die "task $i left no shard file"
done

# --- the same scan on one machine --------------------------------------------
# Timings differ from run to run: each capture's and the summary's
# elapsed_seconds, the summary's peak_memory_bytes (JSON Lines and the
# SARIF run's properties). Nothing else may.
untimed() {
    sed -E 's/"elapsed_seconds": ?[-+.0-9eE]+,?//g; s/"peak_memory_bytes": ?([0-9]+|null),?//g' "$1"
}
# merge.sbatch writes JSON Lines and SARIF by default; the job's exit code
# is the first's.
for format in sarif jsonl; do
    [ -s "$tmp/out/merged.$format" ] || die "the merge job wrote no merged.$format"
    single_exit=0
    "$TELEAUDIT" scan "$corpus" --format "$format" -o "$tmp/single.$format" 2> "$tmp/single.stderr" || single_exit=$?
    if ! diff <(untimed "$tmp/single.$format") <(untimed "$tmp/out/merged.$format") > "$tmp/diff"; then
        { head -c 4000 "$tmp/diff"; echo; } >&2
        die "merged $format differs from the single run (diff above)"
    fi
    say "ok: merged.$format = one teleaudit scan's ($(wc -l < "$tmp/single.$format") lines)"
done
[ "$merge_exit" = "$single_exit" ] || die "merge job exit code $merge_exit, single run $single_exit"
ok=1
say "ok: $shards shards on Slurm, merged by a dependent job: the single run's reports and exit code ($single_exit)"
