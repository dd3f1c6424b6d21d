#!/usr/bin/env bash
# A real single-node Slurm cluster (Debian's slurm-wlm and munge, started here, as root, in a
# scratch directory with its own ports), an array job of `earshot tag` over a generated corpus
# (each task takes its shard from SLURM_ARRAY_TASK_ID/COUNT), `earshot merge` of the shards,
# and the merged output compared with a single-process run: same files, same order, same
# scores. Exits non-zero on any difference; the daemons are stopped on exit.
#
#   tests/slurm/array_job.sh [EARSHOT_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/earshot/target}/release/earshot}
corpus=tests/data/generated/datasets/esc50/audio
ckpt=tests/data/generated/panns/Cnn14.pth
for need in "$bin" "$corpus" "$ckpt"; do
  [ -e "$need" ] || { echo "slurm test: missing $need" >&2; exit 1; }
done
for tool in slurmctld slurmd sbatch squeue munged mungekey; do
  command -v "$tool" > /dev/null || { echo "slurm test: $tool not installed (scripts/setup.sh)" >&2; exit 1; }
done
bin=$(readlink -f "$bin"); corpus=$(readlink -f "$corpus"); ckpt=$(readlink -f "$ckpt")

T=$(mktemp -d /tmp/earshot-slurm.XXXXXX)
chmod 700 "$T"
mkdir -p "$T/state" "$T/spool" "$T/munge" "$T/out"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  sleep 1
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "slurm test: $*" >&2
  for f in "$T"/*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done
  exit 1
}

# munge with its own key and socket.
mungekey --create --keyfile="$T/munge/munge.key" --force 2> /dev/null \
  || mungekey -c -k "$T/munge/munge.key"
chmod 600 "$T/munge/munge.key"
munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/sock" \
  --pid-file="$T/munge/pid" --log-file="$T/munge.log" --seed-file="$T/munge/seed" \
  || fail "munged did not start"
pids+=("$(cat "$T/munge/pid")")

# Free ports for slurmctld and slurmd.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
cat > "$T/slurm.conf" << CONF
ClusterName=earshot-test
SlurmctldHost=$host
SlurmctldPort=$(port)
SlurmdPort=$(port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/sock
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
sleep 1
pids+=("$(cat "$T/slurmctld.pid" 2> /dev/null)" "$(cat "$T/slurmd.pid" 2> /dev/null)")
for _ in $(seq 30); do
  sinfo -h -o %t 2> /dev/null | grep -qE '^(idle|mix|alloc)' && break
  sleep 1
done
sinfo -h -o %t | grep -qE '^(idle|mix|alloc)' || fail "the node did not come up: $(sinfo 2>&1)"

# The array job: 3 tasks, one thread each, the model commands as any user would run them.
common=(tag --checkpoint "$ckpt" --format json --all-scores --batch-size 1 --threads 1 "$corpus")
sbatch --wait --array=1-3 --cpus-per-task=1 --output="$T/out/task-%a.log" --chdir="$T/out" \
  --wrap "$(printf '%q ' "$bin" "${common[@]}" -o "$T/out/tags.json")" > "$T/sbatch.out" \
  || fail "array job failed: $(cat "$T/sbatch.out" "$T"/out/task-*.log 2> /dev/null)"
shards=("$T"/out/tags.shard-{0,1,2}-of-3.json)
for s in "${shards[@]}"; do [ -s "$s" ] || fail "missing shard $s: $(cat "$T"/out/task-*.log)"; done
"$bin" merge -o "$T/merged.json" "${shards[@]}"
"$bin" "${common[@]}" -o "$T/single.json"
python3 - "$T/single.json" "$T/merged.json" << 'PY'
import json, sys
single, merged = (json.load(open(p)) for p in sys.argv[1:3])
assert [r["file"] for r in single] == [r["file"] for r in merged], "file order differs"
assert len(single) >= 30, len(single)
worst = max(abs(a - b) for s, m in zip(single, merged) for a, b in zip(s["scores"], m["scores"]))
assert worst <= 1e-6, worst
print(f"slurm array job: {len(single)} files in 3 shards, merged = single-process run "
      f"(max |diff| {worst:.1e})")
PY
