#!/usr/bin/env bash
# Issue 14's data-parallel throughput beside PyTorch DDP (called by run.sh): `engine train --nproc-per-node N` over
# NCCL (N = the GPUs) on stories260K with packed 256-token rows, 8 rows per rank, LoRA r16 all-linear and full
# fine-tuning, then bench/peers/torch_ddp_peer.py under torchrun on the same shape and rows per rank. Prints one
# "engine ddp" line per mode (global tokens/s, median of steps 4..) and the peer's JSON lines.
# Needs two or more GPUs; on one it says so and exits 0.
# Usage: ddp_bench.sh ENGINE DATA_DIR OUT_DIR
set -u
E=$1 D=$2 O=$3
n=$(nvidia-smi -L | wc -l)
if [ "$n" -lt 2 ]; then
  echo "one GPU: the data-parallel bench (engine train --nproc-per-node vs torch DDP) needs a machine with two or more"
  exit 0
fi
rc=0
for mode in lora full; do
  rm -rf "$O/$mode"
  "$E" train --mode "$mode" --device cuda --model "$D/stories260K.bin" --tokenizer "$D/tok512.model" \
      --data "$D/tinystories_sample_cs336.txt" --max-length 256 --packing --batch-size 8 --lora-r 16 --lora-alpha 32 \
      --lora-dropout 0 --max-steps 30 --logging-steps 1 --nproc-per-node "$n" --out "$O/$mode" || { rc=1; continue; }
  python3 - "$O/$mode/metrics.jsonl" "$mode" "$n" <<'PY'
import json, statistics, sys
m = [json.loads(l) for l in open(sys.argv[1])][3:]
print(f"engine ddp {sys.argv[2]} stories260K {sys.argv[3]} ranks: {statistics.median(x['tokens_per_s'] for x in m):,.0f} tokens/s global (median of {len(m)} steps)")
PY
  python3 -m torch.distributed.run --nproc_per_node "$n" bench/peers/torch_ddp_peer.py --device cuda --shape stories260k \
      --mode "$mode" --batch-size 8 --seq 256 --lora-r 16 --warmup 2 --steps 10 --max-seconds 60 || rc=1
done
# The peer alone on a shape engine has no weights for in the bundle: what DDP reaches per rank at scale.
python3 -m torch.distributed.run --nproc_per_node "$n" bench/peers/torch_ddp_peer.py --device cuda --shape tinyllama-1b \
    --mode full --batch-size 8 --seq 2048 --warmup 1 --steps 3 --max-seconds 60 || rc=1
exit $rc
