#!/usr/bin/env bash
# Issue 14's first GPU checks (called by run.sh): the NCCL communicator at world size 1 must take exactly the steps of
# a run without a communicator (RANK=0 WORLD_SIZE=1 makes the process a rank of a one-GPU job); with two or more GPUs,
# --nproc-per-node 2 × batch 1 must match one process × batch 2 to fp32 rounding, and --zero 1 the same 2 ranks exactly.
# Usage: nccl_check.sh ENGINE DATA_DIR OUT_DIR
set -u
E=$1 D=$2 O=$3
common=(train --mode lora --device cuda --model "$D/stories260K.bin" --tokenizer "$D/tok512.model"
        --data "$D/tinystories_sample_cs336.txt" --max-steps 10 --logging-steps 1 --lora-dropout 0 --max-length 256)
rm -rf "$O/plain" "$O/nccl1" "$O/one2" "$O/two1" "$O/two1z"
"$E" "${common[@]}" --batch-size 2 --out "$O/plain" || exit 1
env RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 "$E" "${common[@]}" --batch-size 2 --out "$O/nccl1" || exit 1
compare() { # exact (tolerance 0) or relative
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
b = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
tol = float(sys.argv[3])
bad = [(x["step"], x["loss"], y["loss"]) for x, y in zip(a, b) if abs(x["loss"] - y["loss"]) > tol * abs(x["loss"])]
print(f"{sys.argv[1]} vs {sys.argv[2]}: {len(a)}/{len(b)} steps, tolerance {tol}: " + ("MATCH" if not bad and len(a) == len(b) else f"DIFFER {bad[:3]}"))
sys.exit(1 if bad or len(a) != len(b) else 0)
PY
}
compare "$O/plain" "$O/nccl1" 0 || exit 1
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
  "$E" "${common[@]}" --batch-size 2 --out "$O/one2" || exit 1
  "$E" "${common[@]}" --batch-size 1 --nproc-per-node 2 --out "$O/two1" || exit 1
  compare "$O/one2" "$O/two1" 1e-3 || exit 1
  # ZeRO-1 (ncclBroadcast of each rank's updated parameters) must take the same steps bit for bit.
  "$E" "${common[@]}" --batch-size 1 --nproc-per-node 2 --zero 1 --out "$O/two1z" || exit 1
  compare "$O/two1" "$O/two1z" 0 || exit 1
  cmp "$O/two1/adapter_model.safetensors" "$O/two1z/adapter_model.safetensors" || exit 1
else
  echo "one GPU: the 2-rank NCCL check needs a machine with two"
fi
