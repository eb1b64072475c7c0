#!/usr/bin/env bash
# The Kubernetes recipe, checked without a cluster:
#  1. examples/kubernetes/indexed-job.yaml validates against Kubernetes'
#     own schemas (Python's kubernetes-validate, strict: unknown fields are
#     errors), for 1.29, the oldest version it needs;
#  2. its scan Job is an Indexed Job whose `--shard auto/N` is its
#     `completions`, whose shard file is named by $(JOB_COMPLETION_INDEX),
#     declared from the pod's completion-index annotation, and whose merge
#     Job is created suspended and mounts the same claim as the scan's
#     output;
#  3. the Indexed Job is played here: the scan container's command, read
#     from the YAML, runs once per index with JOB_COMPLETION_INDEX set and
#     $(VAR) expanded as the kubelet does, each volume's mount path standing
#     for a local folder (the captures claim: the corpus; the output claim:
#     a temporary folder); then the merge container's command. Its reports
#     must be what one `teleaudit scan` of the corpus writes, byte for byte
#     but for the timings, with the same exit code.
# Environment: TELEAUDIT (default target/debug/teleaudit), TELEAUDIT_CORPUS
# (default ../shared/corpus). An argument: another YAML to check.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
yaml_file=${1:-$repo/examples/kubernetes/indexed-job.yaml}
TELEAUDIT=${TELEAUDIT:-$repo/target/debug/teleaudit}
corpus=${TELEAUDIT_CORPUS:-$repo/../shared/corpus}

. "$repo/tests/cluster/lib.sh"

[ -x "$TELEAUDIT" ] || die "no teleaudit binary at $TELEAUDIT (cargo build first, or set TELEAUDIT)"
[ -d "$corpus" ] || die "no corpus at $corpus (set TELEAUDIT_CORPUS)"
corpus=$(cd "$corpus" && pwd)
TELEAUDIT=$(cd "$(dirname "$TELEAUDIT")" && pwd)/$(basename "$TELEAUDIT")

python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
command -v kubernetes-validate >/dev/null || python3 -m pip install --quiet kubernetes-validate

say "schema: kubernetes-validate --strict, Kubernetes 1.29"
kubernetes-validate --strict --quiet -k 1.29.0 "$yaml_file" || die "$yaml_file does not validate"

tmp=$(mktemp -d /tmp/teleaudit-k8s.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out" "$tmp/bin"
# The image's teleaudit on PATH.
ln -s "$TELEAUDIT" "$tmp/bin/teleaudit"


# Plays the Indexed Job; prints the merge pod's exit code, then "FORMAT
# FILE" for each report it wrote, in its order.
python3 - "$yaml_file" "$corpus" "$tmp/out" "$tmp/bin" > "$tmp/reports" <<'EOF'
import os, re, subprocess, sys
import yaml

path, corpus, out_dir, bin_dir = sys.argv[1:]
INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def fail(msg):
    sys.exit(f"kubernetes.sh: FAIL: {path}: {msg}")


def say(msg):
    print(f"kubernetes.sh: {msg}", file=sys.stderr)


docs = [d for d in yaml.safe_load_all(open(path)) if d]
jobs = [d for d in docs if d.get("kind") == "Job"]
indexed = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
if len(indexed) != 1:
    fail(f"{len(indexed)} Jobs with completionMode: Indexed, not 1")
scan = indexed[0]
merges = [j for j in jobs if j is not scan]
if len(merges) != 1:
    fail(f"{len(merges)} merge Jobs beside the Indexed Job, not 1")
merge = merges[0]

spec = scan["spec"]
n = spec.get("completions")
p = spec.get("parallelism", 1)
if not isinstance(n, int) or n < 1:
    fail(f"completions {n!r}")
if not isinstance(p, int) or not 1 <= p <= n:
    fail(f"parallelism {p!r} for {n} completions")
if merge["spec"].get("suspend") is not True:
    fail("the merge Job is not created suspended: it would run before the shards are written")


def container(job):
    pod = job["spec"]["template"]["spec"]
    if pod.get("restartPolicy") != "Never":
        fail(f"job {job['metadata']['name']}: restartPolicy {pod.get('restartPolicy')!r}, not Never")
    (c,) = pod["containers"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: claims[m["name"]] for m in c.get("volumeMounts", [])}
    return c, mounts


scan_c, scan_mounts = container(scan)
merge_c, merge_mounts = container(merge)
argv = scan_c.get("command", []) + scan_c.get("args", [])


def after(flag):
    if argv.count(flag) != 1 or argv.index(flag) + 1 >= len(argv):
        fail(f"scan command {argv}: no single {flag} VALUE")
    return argv[argv.index(flag) + 1]


if argv[:2] != ["teleaudit", "scan"]:
    fail(f"scan command {argv}: not `teleaudit scan`")
if after("--shard") != f"auto/{n}":
    fail(f"--shard {after('--shard')}, but completions: {n} (they must agree, or shards are lost)")
if after("--format") != "shard":
    fail(f"--format {after('--format')}, not shard")
output = after("-o")
if "$(JOB_COMPLETION_INDEX)" not in output:
    fail(f"-o {output}: not named by $(JOB_COMPLETION_INDEX), so the pods would write one file")
env_spec = {e["name"]: e for e in scan_c.get("env", [])}
field = env_spec.get("JOB_COMPLETION_INDEX", {}).get("valueFrom", {}).get("fieldRef", {})
if field.get("fieldPath") != INDEX_ANNOTATION:
    fail("JOB_COMPLETION_INDEX is not declared from the completion-index annotation")


def claim_of(mounts, p):
    for mount, claim in mounts.items():
        if p == mount or p.startswith(mount.rstrip("/") + "/"):
            return claim
    fail(f"{p} is on no volume: it would not outlive the pod")


scanned = [a for a in argv[2:] if a.startswith("/")]
if len(scanned) != 2:
    fail(f"scan command {argv}: expected one absolute folder and the -o file")
captures_claim = claim_of(scan_mounts, scanned[0])
out_claim = claim_of(scan_mounts, output)
if out_claim not in merge_mounts.values():
    fail(f"the merge Job does not mount {out_claim}, where the shards are written")
local = {captures_claim: corpus, out_claim: out_dir}


def localise(mounts, text):
    """Each mount path in text, as a whole path component, becomes its claim's local folder."""
    for mount, claim in sorted(mounts.items(), key=lambda m: -len(m[0])):
        text = re.sub(r"(?<![\w./-])" + re.escape(mount.rstrip("/")) + r"(?=/|$|[\s;])", local[claim], text)
    return text


def expand(s, env):
    """The kubelet's $(VAR) expansion: `$$` is `$`, an unknown $(VAR) stays as it is."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


def pod_env(c, index):
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = expand(e["value"], env)
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == INDEX_ANNOTATION:
            env[e["name"]] = str(index)
        else:
            fail(f"env {e['name']}: a source this test does not play")
    if index is not None:
        # What the Job controller itself adds to an Indexed Job's pods.
        env.setdefault("JOB_COMPLETION_INDEX", str(index))
    return env


def run(c, mounts, index):
    env = pod_env(c, index)
    cmd = [localise(mounts, expand(a, env)) for a in c.get("command", []) + c.get("args", [])]
    full = dict(os.environ, **env, PATH=bin_dir + os.pathsep + os.environ["PATH"])
    r = subprocess.run(cmd, env=full, stderr=subprocess.PIPE, text=True)
    return cmd, r.returncode, r.stderr


fail_index = set()
for rule in spec.get("podFailurePolicy", {}).get("rules", []):
    if rule["action"] == "FailIndex" and "onExitCodes" in rule:
        fail_index.update(rule["onExitCodes"]["values"])
codes = {}
for index in range(n):
    cmd, code, err = run(scan_c, scan_mounts, index)
    if index == 0:
        say(f"pod 0: {' '.join(cmd)}")
    # Another exit code would be retried, to the same end.
    if code != 0 and code not in fail_index:
        fail(f"pod {index} exit {code}, which podFailurePolicy retries:\n{err}")
    codes[code] = codes.get(code, 0) + 1
say(f"{n} pods ({p} at a time on a cluster), exit codes {dict(sorted(codes.items()))}")

cmd, code, err = run(merge_c, merge_mounts, None)
sys.stderr.write(err)
say(f"merge pod: exit {code}")
print(code)
script = " ".join(cmd)
reports = re.findall(r"--format (\w+) -o (\S+?);?(?:\s|$)", script)
if "jsonl" not in [f for f, _ in reports]:
    fail(f"the merge command writes no JSON Lines report: {script}")
for fmt, file in reports:
    print(fmt, file)
EOF

{
    read -r merge_exit
    while read -r format file; do
        single_exit=0
        "$TELEAUDIT" scan "$corpus" --format "$format" -o "$tmp/single.$format" 2> /dev/null || single_exit=$?
        [ -s "$file" ] || die "the merge pod wrote no $file"
        same_report "$tmp/single.$format" "$file" "merged $format differs from one teleaudit scan of the corpus"
        say "ok: merged $format = single run's"
    done
} < "$tmp/reports"
# The merge pod's exit code is its last command's, the last report's.
[ "$merge_exit" = "$single_exit" ] || die "merge pod exit $merge_exit, single run $single_exit"
say "ok: merge pod exit $merge_exit = single run's"
