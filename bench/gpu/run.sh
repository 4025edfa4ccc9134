#!/usr/bin/env bash
# The GPU bench bundle's driver, run from the repo root on the GPU machine (see bench/README.md):
#   1. engine selftest --device cuda   every op vs the CPU reference (bf16 and fp32), whole-model checks
#      nccl_check.sh                    the NCCL communicator at world size 1 (and 2 ranks on a multi-GPU machine)
#   2. engine bench kernels            GB/s and TFLOP/s of every op next to copy bandwidth and cuBLAS
#   3. engine bench train              LoRA on the Llama-2-7B shape, full fine-tune of the TinyLlama-1.1B shape
#   4. torch_peer_bench.py             PyTorch + transformers + PEFT on the same cases, same machine, same run
#   5. ddp_bench.sh                     engine train --nproc-per-node N beside torch DDP (torch_ddp_peer.py), when the
#                                       machine has two or more GPUs (skipped with a message otherwise)
# and prints one table at the end. Logs go to $OUT (or ./gpu-out). Each stage has its own time limit so a slow or
# failing stage cannot take the others down.
set -u
OUT=${OUT:-$PWD/gpu-out}
B=${BUNDLE:-.bundle}
mkdir -p "$OUT" /tmp/engine-gpu
tar -C /tmp/engine-gpu -xJf "$B/engine-linux-x64.tar.xz"
E=/tmp/engine-gpu/publish/Engine.Cli
D=$B/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

stage() {
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s) ==="
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 60 "$OUT/$name.log"
  echo "=== $name: exit $rc after $(( $(date +%s) - t0 ))s ==="
  echo "$name $rc" >> "$OUT/stages.txt"
}

stage selftest "${T_SELFTEST:-90}" "$E" selftest --device cuda --size realistic --model "$D/stories260K.bin" --text "$D/tinystories_sample_cs336.txt" --lora-steps 50
stage nccl "${T_NCCL:-60}" bench/gpu/nccl_check.sh "$E" "$D" /tmp/engine-gpu/nccl
stage kernels "${T_KERNELS:-60}" "$E" bench kernels --device cuda
stage lora7b "${T_LORA7B:-40}" "$E" bench train --device cuda --shape llama2-7b --mode lora --batch-size 4 --seq 2048 --lora-r 16 --gradient-checkpointing --warmup 1 --steps 2 --max-seconds 40
stage lora8b "${T_LORA8B:-45}" "$E" bench train --device cuda --shape llama3-8b --mode lora --batch-size 4 --seq 2048 --lora-r 16 --gradient-checkpointing --warmup 1 --steps 2 --max-seconds 45
stage full1b "${T_FULL1B:-30}" "$E" bench train --device cuda --shape tinyllama-1b --mode full --batch-size 8 --seq 2048 --warmup 1 --steps 2 --max-seconds 30
stage peer "${T_PEER:-60}" env PYTHONUNBUFFERED=1 python3 "$D/torch_peer_bench.py" lora7b lora8b full1b sdpa nf4gemv
stage ddp "${T_DDP:-240}" bench/gpu/ddp_bench.sh "$E" "$D" /tmp/engine-gpu/ddp
# the CPU case of the peer script, and engine's CPU backend beside it on the same two cores
stage cpu15m_engine "${T_CPU15M:-50}" bash -c "taskset -c 0,1 env DOTNET_PROCESSOR_COUNT=2 $E bench train --device cpu --shape stories15m --mode full --batch-size 8 --seq 256 --steps 3 --warmup 1 && taskset -c 0,1 env DOTNET_PROCESSOR_COUNT=2 $E bench train --device cpu --shape stories15m --mode lora --lora-r 8 --batch-size 8 --seq 256 --steps 3 --warmup 1 && taskset -c 0,1 env DOTNET_PROCESSOR_COUNT=2 $E bench forward --device cpu --shape stories15m"
stage cpu15m_peer "${T_CPU15M_PEER:-60}" env PYTHONUNBUFFERED=1 python3 "$D/torch_peer_bench.py" cpu15m

echo
echo "================ summary ================"
cat "$OUT/stages.txt"
grep -hE "^(PASS|FAIL)|all [0-9]+ checks passed|checks failed|selftest:" "$OUT/selftest.log" | head -20
grep -hE "MATCH|DIFFER|needs a machine" "$OUT/nccl.log"
grep -hE "GB/s|TFLOP/s" "$OUT/kernels.log"
grep -hE "tokens/s \(|decode" "$OUT/lora7b.log" "$OUT/lora8b.log" "$OUT/full1b.log" "$OUT/cpu15m_engine.log"
grep -hE "^\{" "$OUT/peer.log" "$OUT/cpu15m_peer.log"
grep -hE "engine ddp|\"case\": \"ddp_|needs a machine with two" "$OUT/ddp.log"
