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

. "$repo/tests/cluster/lib.sh"

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
say "$(slurmctld -V), $(munged --version 2>&1 | awk '{print $1; exit}')"

# --- the cluster -----------------------------------------------------------
tmp=$(mktemp -d /tmp/teleaudit-slurm.XXXXXX)
chmod 700 "$tmp"
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool"
pids=()
names=()
jobs_submitted=()
ok=

show_logs() {
    local f
    for f in "$tmp"/slurmctld.log "$tmp"/slurmd.log "$tmp"/munge/munged.log \
             "$tmp"/*.stderr "$tmp"/*/work/*.out; do
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
    if [ "${#jobs_submitted[@]}" -gt 0 ]; then
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
# job_field JOB FIELD: FIELD=... of `scontrol show job`, one line per task.
job_field() {
    scontrol -o show job "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | cut -d= -f2-
}

# submit NAME BINARY: the array over the corpus and the merge after it, as
# the recipe says, into $tmp/NAME; waits for the merge job to end. Only
# what a one-node test needs is overridden on the command line: 4 shards
# two at a time, one core and little memory each. Sets `out`, `tasks`
# ("task state exit:signal" lines) and `merge_exit`.
submit() {
    local name=$1 array merge now last= start=$SECONDS state
    out=$tmp/$name/out
    mkdir -p "$tmp/$name/work"
    cd "$tmp/$name/work"
    array=$(CAPTURES=$corpus OUT=$out TELEAUDIT=$2 sbatch --parsable --array=0-$((shards - 1))%2 \
        --cpus-per-task=1 --mem=256M --time=10 "$repo/examples/slurm/scan-array.sbatch")
    array=${array%%;*}
    merge=$(OUT=$out TELEAUDIT=$TELEAUDIT sbatch --parsable --dependency=afterany:"$array" \
        --mem=256M --time=10 "$repo/examples/slurm/merge.sbatch")
    merge=${merge%%;*}
    jobs_submitted+=("$array" "$merge")
    cd "$repo"
    say "$name: array job $array (shards 0-$((shards - 1)), 2 at a time), merge job $merge (afterany:$array)"
    local final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)$'
    while :; do
        now="array: $(job_field "$array" JobState | sort | uniq -c | xargs); merge: $(job_field "$merge" JobState)"
        [ "$now" = "$last" ] || say "$name: $((SECONDS - start)) s: $now"
        last=$now
        [[ "$(job_field "$merge" JobState)" =~ $final ]] && break
        [ $((SECONDS - start)) -lt "$wait_secs" ] || die "$name: jobs not done after $wait_secs s"
        sleep 1
    done
    tasks=$(scontrol -o show job "$array" | grep -o 'ArrayTaskId=[^ ]*\|JobState=[^ ]*\|ExitCode=[^ ]*' |
        paste -d' ' - - - | sed 's/ArrayTaskId=//; s/JobState=//; s/ExitCode=//' | sort -n)
    say "$name: array tasks (task state exit:signal): $(echo "$tasks" | paste -sd';' | sed 's/;/; /g')"
    state=$(job_field "$merge" JobState)
    merge_exit=$(job_field "$merge" ExitCode)
    say "$name: merge job $state, exit code $merge_exit"
    # A merge that exits 1 or 2 is a FAILED job; one killed is not a merge.
    [ "$state" = COMPLETED ] || [ "$state" = FAILED ] || die "$name: merge job $state"
    [ "${merge_exit#*:}" = 0 ] || die "$name: merge job killed by signal ${merge_exit#*:}"
    merge_exit=${merge_exit%%:*}
}


# The same scan on one machine.
for format in jsonl sarif; do
    single_exit=0
    "$TELEAUDIT" scan "$corpus" --format "$format" -o "$tmp/single.$format" 2> /dev/null || single_exit=$?
done
say "single run: exit $single_exit, $(wc -l < "$tmp/single.jsonl") JSON Lines"

# 1. Every task succeeds: the merge is the single run.
submit whole "$TELEAUDIT"
# A shard scan exits 0 once its shard file is written whole, whatever the
# captures held.
[ "$(grep -c ' COMPLETED 0:0$' <<< "$tasks")" -eq "$shards" ] || die "whole: not every array task COMPLETED with exit 0"
for format in jsonl sarif; do
    [ -s "$out/merged.$format" ] || die "whole: the merge job wrote no merged.$format"
    same_report "$tmp/single.$format" "$out/merged.$format" "whole: merged.$format differs from the single run"
    say "whole: ok: merged.$format = one teleaudit scan's, timings aside"
done
[ "$merge_exit" = "$single_exit" ] || die "whole: merge job exit code $merge_exit, single run $single_exit"
say "whole: ok: merge job exit code $merge_exit = one teleaudit scan's"

# 2. Task 2 is killed (SIGKILL, as by the out-of-memory killer) before it
# writes: the merge still runs (afterany), exits 2, names shard 2 missing,
# gives each of its captures as an error, and keeps every other capture's
# lines as the single run has them.
killed=2
printf '#!/bin/sh\n[ "$SLURM_ARRAY_TASK_ID" = %s ] && kill -KILL $$\nexec "%s" "$@"\n' \
    "$killed" "$TELEAUDIT" > "$tmp/teleaudit-killed"
chmod +x "$tmp/teleaudit-killed"
submit killed "$tmp/teleaudit-killed"
[ "$(grep -c ' COMPLETED 0:0$' <<< "$tasks")" -eq $((shards - 1)) ] &&
    grep -q "^$killed FAILED 0:9$" <<< "$tasks" || die "killed: not task $killed alone killed"
[ ! -e "$out/shard-$killed.jsonl" ] || die "killed: task $killed wrote its shard file"
[ "$merge_exit" = 2 ] || die "killed: merge job exit code $merge_exit, not 2"
python3 - "$tmp/single.jsonl" "$out/merged.jsonl" "$out/shard-0.jsonl" "$killed/$shards" <<'PY' || die "killed: merged.jsonl (above)"
import json, re, sys

single, merged, shard0, lost = sys.argv[1:]
index = int(lost.split("/")[0])
header = json.loads(open(shard0).readline())["teleaudit_shard"]
gone = {entry[0] for entry in header["discovery"]["inputs"] if entry[1] == index}
untimed = lambda l: re.sub(r'"(elapsed_seconds|peak_memory_bytes)":[^,}]*,?', "", l)
rows = [(json.loads(l), untimed(l)) for l in open(merged)]
errors = {r["capture"]: r["message"] for r, _ in rows if r["type"] == "error"}
if not any(c == f"shard {lost}" and "missing" in m for c, m in errors.items()):
    sys.exit(f"no error names shard {lost} missing")
for name in gone:
    if f"shard {lost} is missing" not in errors.get(name, ""):
        sys.exit(f"{name}, of shard {lost}, is not an error of the missing shard")
# Every line of the other shards' captures, in the single run's order.
kept = [u for r, u in ((json.loads(l), untimed(l)) for l in open(single))
        if r.get("capture") is not None and r["capture"] not in gone and r["type"] != "summary"]
lines = iter(u for _, u in rows)
for k in kept:
    if not any(k == u for u in lines):
        sys.exit(f"lost from the other shards: {k[:300]}")
print(f"slurm.sh: killed: ok: shard {lost} missing, its {len(gone)} captures errors, "
      f"the {len(kept)} lines of the other shards' captures kept in order")
PY

ok=1
say "ok: the Slurm recipe, 4 shards: the single run's reports and exit code ($single_exit); a killed task is reported, the rest kept"
