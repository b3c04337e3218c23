#!/usr/bin/env bash
# The benchmark on a GPU machine (DESIGN §6), from the repository root, after benchmarks/gpu/prepare.ts made
# the bundles and gpu-payload/ (which travel with the working tree). It checks its environment (node, the
# Vulkan loader and an NVIDIA ICD, an adapter that is the GPU and not SwiftShader), measures the adapter's
# rooflines, tunes the kernel tiles for this GPU (v4, v3, v2 and the subgroup-matrix GEMM where the adapter has
# it; base's 512-token shapes first, each shape time-boxed) into this adapter's committed table
# (optimized/webgpu/tuned/), checks the tuned engine's parity on the GPU (fp32 and f16 storage), profiles a
# forward pass per kernel (fp32 and f16, against the measured rooflines), runs the paper's workloads for
# ModernBERT-base on WebGPU (fp32 and f16) beside its direct peer, transformers.js on ONNX Runtime's WebGPU provider
# (fp32 and fp16 graphs), and the PyTorch peer (CUDA: fp32, fp16 and bf16 sdpa) on the same GPU, and writes
# everything under one folder:
#   bash benchmarks/gpu/run.sh [--out DIR] [bench options, e.g. --workload fixed_short:8]
# OUT (or --out) is where results go (default: $OUT when the device tool sets it, else reports/):
#   environment.txt, roofline.json, info.json (adapter, features, the tuning table in use), tune.md + tune-log.txt,
#   tuned/ (the table: commit it to optimized/webgpu/tuned/), parity.md, parity-f16.jsonl, profile-f32.md,
#   profile-f16.md (f16: every GEMM and attention on subgroup matrices where the adapter has them), there also
#   parity-f16-tiled.jsonl and profile-f16-tiled.md (f16 on the register-tiled kernels), bench/ (results.csv,
#   summary.md with a "vs ONNX Runtime WebGPU" table, plots).
# Every stage after tuning reads the table and no local tuning cache, as a fresh clone on this GPU does.
# MODERNBERT_TUNE_ARGS and MODERNBERT_PROFILE_ARGS replace the tune and profile options (the defaults size
# them for an H100-class GPU; the whole script is meant to fit 9 minutes there). Each stage has a time limit
# in seconds (MODERNBERT_TUNE_SECONDS, MODERNBERT_PROFILE_SECONDS, MODERNBERT_BENCH_SECONDS): a stage that
# runs out is noted in environment.txt and the script goes on, so one slow stage costs only its own results.
# MODERNBERT_TUNED_TABLES moves the tables' folder (the script's test keeps the repository's as it is).
# MODERNBERT_ALLOW_SWIFTSHADER=1 lets it run on SwiftShader, to test this script on a CPU machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-reports}"
if [[ "${1:-}" == "--out" ]]; then out="$2"; shift 2; fi
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
say() { printf 'gpu run: %s\n' "$*" | tee -a "$out/environment.txt" >&2; }
unxz_to() { # file.xz -> target, with xz or with Python's lzma when xz is missing
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

for f in benchmarks/bench.bundle.mjs benchmarks/peers/transformersjs.bundle.mjs cli/modernbert.bundle.mjs gpu-payload/webgpu/package.json gpu-payload/onnxruntime-node/package.json; do
  [[ -e "$f" ]] || { echo "gpu run: $f is missing: run node --import ./bin/register.js benchmarks/gpu/prepare.ts first" >&2; exit 2; }
done

# node: the machine's own when it is 20 or newer, else the copy that travelled.
node_bin="$(command -v node || true)"
if [[ -z "$node_bin" ]] || (( $("$node_bin" -p 'process.versions.node.split(".")[0]') < 20 )); then
  [[ -e gpu-payload/node.xz ]] || { echo "gpu run: no node >= 20 here and gpu-payload/node.xz was not prepared" >&2; exit 2; }
  unxz_to gpu-payload/node.xz "$work/node" && chmod +x "$work/node" && node_bin="$work/node"
fi
say "node $("$node_bin" --version) ($node_bin)"

# The webgpu package (Dawn) where the bundles resolve it: node_modules/webgpu.
if [[ ! -e node_modules/webgpu/dist/linux-x64.dawn.node ]]; then
  mkdir -p node_modules/webgpu/dist
  cp gpu-payload/webgpu/package.json gpu-payload/webgpu/index.js node_modules/webgpu/
  unxz_to gpu-payload/webgpu/dist/linux-x64.dawn.node.xz node_modules/webgpu/dist/linux-x64.dawn.node
fi
# onnxruntime-node (ONNX Runtime with its own Dawn and WebGPU provider) and onnxruntime-common, for the peer's bundle.
ort_lib=node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
if [[ ! -e "$ort_lib" ]]; then
  mkdir -p node_modules
  cp -r gpu-payload/onnxruntime-node gpu-payload/onnxruntime-common node_modules/
  unxz_to "node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1.xz" "$ort_lib" && rm "$ort_lib.xz"
fi

# The Vulkan loader: the system's, else Debian's libvulkan1 (and the glvnd libraries NVIDIA's driver links to)
# unpacked here.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  debs=(gpu-payload/*.deb)
  [[ -e "${debs[0]}" ]] || { echo "gpu run: no Vulkan loader (libvulkan.so.1) and no libvulkan1 package in gpu-payload/" >&2; exit 2; }
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$work/vulkan" 2>/dev/null || (cd "$work" && ar x "$OLDPWD/$deb" && mkdir -p vulkan && tar -xf data.tar.* -C vulkan && rm -f data.tar.* control.tar.* debian-binary)
  done
  export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: Debian's, unpacked ($(basename -a "${debs[@]}" | tr '\n' ' '))"
else
  say "Vulkan loader: $(ldconfig -p | grep -m1 'libvulkan.so.1' | awk '{print $NF}')"
fi

# NVIDIA's ICD: the driver's json (a container's driver mount keeps it under /usr/local/nvidia), else one
# written for libGLX_nvidia.so.0 (where NVIDIA's Vulkan driver lives).
[[ -d /usr/local/nvidia/lib64 ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64"
if [[ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]]; then
  icd="$(ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -n1 || true)"
  if [[ -z "$icd" ]] && { ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia.so.0' || [[ -e /usr/local/nvidia/lib64/libGLX_nvidia.so.0 ]]; }; then
    icd="$work/nvidia_icd.json"
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0"}}\n' > "$icd"
  fi
  if [[ -n "$icd" ]]; then export VK_ICD_FILENAMES="$icd"; fi
fi
say "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-<loader default>} VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | while read -r line; do say "nvidia-smi: $line"; done

# The adapter must be the GPU.
adapter="$("$node_bin" benchmarks/bench.bundle.mjs --probe 2>>"$work/probe.log" | tail -n1)"
say "adapter: $adapter"
if [[ "$adapter" == *'"error"'* ]]; then cat "$work/probe.log" >&2; exit 1; fi
if [[ "$adapter" == *'"swiftshader":true'* && "${MODERNBERT_ALLOW_SWIFTSHADER:-}" != 1 ]]; then
  echo "gpu run: WebGPU found SwiftShader, not the GPU: check the Vulkan loader and the NVIDIA ICD above" >&2
  exit 1
fi

cli=("$node_bin" cli/modernbert.bundle.mjs)
# stage NAME SECONDS COMMAND...: the command under a time limit; its exit status is noted when it is not 0.
stage() {
  local name="$1" seconds="$2" rc=0 start=$SECONDS
  shift 2
  timeout --kill-after=10 "$seconds" "$@" || rc=$?
  if (( rc == 124 || rc == 137 )); then say "$name: stopped at its limit of ${seconds}s"
  elif (( rc != 0 )); then say "$name: failed (exit $rc)"
  else say "$name: done in $((SECONDS - start))s"; fi
  return "$rc"
}
# What this adapter and this Dawn can do (FMA rates, bandwidths, dispatch cost): profile reads kernels against it.
stage roofline 40 "${cli[@]}" roofline --json > "$out/roofline.json" || true

# Tile shapes for this GPU, into this adapter's table (each candidate's output must match the default kernel's;
# the choices so far are kept when the stage runs out of time). No local tuning cache from here on: every later
# stage reads the table, as a fresh clone on this GPU does.
export MODERNBERT_TUNED_TABLES="${MODERNBERT_TUNED_TABLES:-optimized/webgpu/tuned}"
export MODERNBERT_TUNING="$work/no-local-cache.json"
# 512 tokens first (fixed_short's passes); passes of 32768 tokens take the choices of the nearest tuned size,
# 8192. Each shape has a time box: a shape whose candidates compile slowly costs at most that.
read -r -a tune_args <<< "${MODERNBERT_TUNE_ARGS:---config base --tokens 512,8192 --dtype f32,f16 --runs 3 --shape-seconds 7}"
# Its progress log (every candidate's time, and where the time outside the timed runs went) goes to tune-log.txt.
stage tune "${MODERNBERT_TUNE_SECONDS:-150}" "${cli[@]}" tune "${tune_args[@]}" --table > "$out/tune.md" 2> >(tee "$out/tune-log.txt" >&2) || true
table="$(sed -n 's/^wrote //p' "$out/tune.md" | tail -n1)"
mkdir -p "$out/tuned"
if [[ -n "$table" && -e "$table" ]]; then cp "$table" "$out/tuned/" && say "tune: table $table"; else say "tune: no table written"; fi
"${cli[@]}" info --json > "$out/info.json" 2>>"$work/probe.log"
say "webgpu: $(grep -o '"name":"webgpu"[^}]*' "$out/info.json" | sed 's/.*"detail":"//; s/"$//')"
# Correctness of the tuned engine: every golden case on this GPU, in fp32 and in f16 storage. Where the device has
# subgroup matrices (tensor cores), f16 runs every GEMM and attention on them: that check is their first on a GPU,
# so a failure there is noted and the run goes on, while f16 on the register-tiled kernels must pass.
timeout 300 "${cli[@]}" eval parity --backends webgpu | tee "$out/parity.md"
tensor_cores=0
grep -q '"subgroupMatrix":{"available":true' "$out/info.json" && tensor_cores=1
tiled=(--gemm v4 --attention flash_v2)
: > "$out/parity-f16.jsonl"
for case in test/fixtures/golden/*/; do
  if (( tensor_cores )); then
    timeout 120 "${cli[@]}" parity "$case" --backend webgpu --dtype f16 >> "$out/parity-f16.jsonl" || say "parity f16 (subgroup matrices): $case failed"
    timeout 120 "${cli[@]}" parity "$case" --backend webgpu --dtype f16 "${tiled[@]}" >> "$out/parity-f16-tiled.jsonl" || { echo "gpu run: f16 parity (register-tiled) failed on $case" >&2; exit 1; }
  else
    timeout 120 "${cli[@]}" parity "$case" --backend webgpu --dtype f16 >> "$out/parity-f16.jsonl" || { echo "gpu run: f16 parity failed on $case" >&2; exit 1; }
  fi
done
say "parity f16: $(grep -c '"pass":true' "$out/parity-f16.jsonl") golden cases pass$( (( tensor_cores )) && echo " on subgroup matrices, $(grep -c '"pass":true' "$out/parity-f16-tiled.jsonl") register-tiled")"
(( tensor_cores )) || say "no subgroup matrices on this adapter: f16 runs the register-tiled kernels"

# Where a pass's time goes.
read -r -a profile_args <<< "${MODERNBERT_PROFILE_ARGS:---config base --lengths 512x64 --runs 3}"
roofline=()
[[ -s "$out/roofline.json" ]] && roofline=(--roofline "$out/roofline.json")
for dtype in f32 f16; do
  stage "profile $dtype" "${MODERNBERT_PROFILE_SECONDS:-45}" "${cli[@]}" profile "${profile_args[@]}" "${roofline[@]}" --dtype "$dtype" > "$out/profile-$dtype.md" || true
done
(( tensor_cores )) && { stage "profile f16 tiled" "${MODERNBERT_PROFILE_SECONDS:-45}" "${cli[@]}" profile "${profile_args[@]}" "${roofline[@]}" --dtype f16 "${tiled[@]}" > "$out/profile-f16-tiled.md" || true; }

# The benchmark: WebGPU (suite gpu unless the options say otherwise), transformers.js on ONNX Runtime's WebGPU
# provider on the adapter our engine found (fp32 and fp16; its bundle and onnxruntime-node travelled), and the
# PyTorch peer on CUDA when torch sees the GPU. The peers' rows join ours in one results.csv and summary.md.
peers=transformersjs
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then peers=torch,transformersjs
else say "PyTorch with CUDA not importable: no torch peer"; fi
suite=gpu
[[ "$adapter" == *'"swiftshader":true'* ]] && suite=cpu
stage bench "${MODERNBERT_BENCH_SECONDS:-240}" "$node_bin" benchmarks/bench.bundle.mjs --suite "$suite" --peers "$peers" --out "$out/bench" "$@" || true
say "done: $out"
