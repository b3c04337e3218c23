#!/usr/bin/env python3
"""The PyTorch + HF transformers peer of the benchmarks (DESIGN section 5).

Loads ModernBertModel from a checkpoint folder the Node side wrote (config.json + model.safetensors), runs
the same token ids as every other backend, and prints one JSON result row per line on stdout with exactly
the columns of RESULT_COLUMNS in benchmarks/results.ts. Progress and warnings go to stderr.

  torch_peer.py --check
  torch_peer.py --checkpoint DIR --workloads FILE [--impl sdpa,eager] [--dtype fp32] [--device cpu|cuda]
                [--runs 3] [--warmup 1] [--common JSON] [--dump-hidden FILE.safetensors]
  torch_peer.py --checkpoint DIR --export-onnx OUT_DIR
  torch_peer.py --case DIR --write-outputs OUT.safetensors [--dtype fp32|fp16|bf16] [--impl sdpa|eager] [--device cpu|cuda]

--write-outputs runs a golden case (config.json, model.safetensors, io.safetensors: test/fixtures/golden/<case>)
through HF's own classes and writes its outputs under the golden names, for `modernbert parity DIR --outputs
OUT.safetensors [--dtype f16|bf16]`: the whole loop a port goes through, with HF as the port.

HF pads: each workload's sequences are right-padded into one batch with an attention mask, and the pads are
computed. Throughput counts real tokens only.

Exit codes: 0 done, 1 a run failed, 2 bad arguments or input, 3 the Python packages are missing (--check).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

# The columns of benchmarks/results.ts RESULT_COLUMNS, in order; the Node side checks every row against them.
RESULT_COLUMNS = [
    "date", "commit", "device", "kind", "name", "backend", "variant", "config", "dtype", "sequences", "tokens",
    "runs", "median_s", "min_s", "max_s", "tokens_per_s", "gflop_per_s", "gb_per_s", "peak_bytes", "adapter",
    "runtime", "versions", "note", "load_s", "first_s", "features", "cpu", "memory_bytes", "os",
]
IMPLS = ("sdpa", "eager")
DTYPES = ("fp32", "fp16", "bf16")


def fail(message, code=2):
    sys.stderr.write(f"torch_peer: {message}\n")
    sys.exit(code)


def log(message):
    sys.stderr.write(f"torch_peer: {message}\n")
    sys.stderr.flush()


def import_packages():
    """torch and transformers, or exit 3 with the one-line reason (the Node side reports it as a skip)."""
    for module in ("torch", "transformers"):
        try:
            __import__(module)
        except Exception as e:  # ImportError, or a broken install raising anything else
            fail(f"cannot import {module} ({e})".replace("\n", " "), 3)
    import torch
    import transformers

    if not hasattr(transformers, "ModernBertModel"):
        fail(f"transformers {transformers.__version__} has no ModernBertModel (it came in 4.48)", 3)

    # stderr is for this script's progress: no per-tensor load reports or progress bars.
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def versions(torch, transformers):
    return f"torch {torch.__version__}; transformers {transformers.__version__}"


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_list(text, allowed, flag):
    items = [s.strip() for s in text.split(",") if s.strip()]
    for item in items:
        if item not in allowed:
            fail(f"{flag}: unknown value {item!r} (allowed: {', '.join(allowed)})")
    if not items:
        fail(f"{flag}: empty list")
    return items


def read_workloads(file):
    try:
        with open(file, encoding="utf8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{file}: cannot read workloads JSON ({e})")
    workloads = data.get("workloads") if isinstance(data, dict) else None
    if not isinstance(workloads, list) or not workloads:
        fail(f'{file}: field "workloads" must be a non-empty list')
    for i, w in enumerate(workloads):
        seqs = w.get("sequences") if isinstance(w, dict) else None
        if not isinstance(w, dict) or not isinstance(w.get("name"), str):
            fail(f'{file}: field "workloads[{i}].name" must be a string')
        if not isinstance(seqs, list) or not seqs or not all(isinstance(s, list) and s and all(isinstance(t, int) for t in s) for s in seqs):
            fail(f'{file}: field "workloads[{i}].sequences" must be a non-empty list of non-empty lists of token ids')
    return workloads


def load_config(checkpoint):
    """ModernBertConfig of the folder. JSON written by JavaScript has no "2.0", only "2", and transformers 5.x
    validates config fields strictly (initializer_cutoff_factor: float rejects 2): integers become floats where
    the field is declared float."""
    import dataclasses

    from transformers import ModernBertConfig

    file = os.path.join(checkpoint, "config.json")
    try:
        with open(file, encoding="utf8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{file}: cannot read config ({e})")
    if dataclasses.is_dataclass(ModernBertConfig):
        for field in dataclasses.fields(ModernBertConfig):
            if field.type is float and type(data.get(field.name)) is int:
                data[field.name] = float(data[field.name])
    return ModernBertConfig.from_dict(data)


def load_model(torch, checkpoint, impl, torch_dtype, device):
    from transformers import ModernBertModel

    # A checkpoint with heads (model.* backbone names) loads into the bare model.
    return from_checkpoint(ModernBertModel, checkpoint, load_config(checkpoint), impl, torch_dtype, device)


def from_checkpoint(cls, checkpoint, config, impl, torch_dtype, device):
    """cls loaded from the folder; a missing weight would silently be random-initialized, so it is an error here.
    Each model gets its own copy of the config (golden_outputs changes the classifier's pooling)."""
    import copy

    model, info = cls.from_pretrained(checkpoint, config=copy.deepcopy(config), attn_implementation=impl, dtype=torch_dtype, output_loading_info=True)
    if info.get("missing_keys"):
        fail(f"{checkpoint}: weights missing from the checkpoint for {cls.__name__}: {', '.join(sorted(info['missing_keys']))}", 1)
    return model.to(device).eval()


def tensor_names(checkpoint):
    """The tensor names of a checkpoint folder: model.safetensors, or the shards its index lists."""
    index = os.path.join(checkpoint, "model.safetensors.index.json")
    try:
        if os.path.exists(index):
            with open(index, encoding="utf8") as f:
                return set(json.load(f)["weight_map"])
        from safetensors import safe_open

        with safe_open(os.path.join(checkpoint, "model.safetensors"), "pt") as f:
            return set(f.keys())
    except (OSError, ValueError, KeyError) as e:
        fail(f"{checkpoint}: cannot read the checkpoint's tensor names ({e})")


def load_case_models(torch, checkpoint, config, impl, torch_dtype, device):
    """The HF models a golden case's outputs come from, for the heads the checkpoint has: "model"
    (ModernBertModel) always; "mlm" (ModernBertForMaskedLM) when it has the prediction head and is an MLM
    checkpoint (decoder.bias, no classifier, or architectures says so; the decoder is tied to the embeddings);
    with a classifier, "classifier" (ModernBertForSequenceClassification), "tokens" (...ForTokenClassification)
    and, for 2 labels, "qa" (...ForQuestionAnswering), which share head.* and classifier.*."""
    import transformers

    names = tensor_names(checkpoint)
    has_classifier = "classifier.weight" in names
    is_mlm = "head.dense.weight" in names and ("decoder.bias" in names or not has_classifier or "ModernBertForMaskedLM" in (config.architectures or []))
    classes = {"model": transformers.ModernBertModel}
    if is_mlm:
        classes["mlm"] = transformers.ModernBertForMaskedLM
    if has_classifier:
        classes.update(classifier=transformers.ModernBertForSequenceClassification, tokens=transformers.ModernBertForTokenClassification)
        if config.num_labels == 2:
            classes["qa"] = transformers.ModernBertForQuestionAnswering
    return {key: from_checkpoint(cls, checkpoint, config, impl, torch_dtype, device) for key, cls in classes.items()}


def golden_outputs(torch, models, ids, mask):
    """The outputs of load_case_models' models under the golden names (test/fixtures/golden/README.md),
    padded [B, L, ...] like ids, as float32 on the CPU. hidden_states is [n_layers + 1, B, L, H] as HF 4.x
    reports it: the embeddings, then each layer's output, the last one before final_norm (5.x puts the
    final-normed state last, so that one is taken from the last layer's output)."""
    backbone = models["model"]
    n_layers = backbone.config.num_hidden_layers
    last_layer = []
    hook = backbone.layers[-1].register_forward_hook(lambda module, args, output: last_layer.append(output[0] if isinstance(output, tuple) else output))
    inputs = dict(input_ids=ids, attention_mask=mask)
    out = {}
    with torch.inference_mode():
        try:
            base = backbone(**inputs, output_hidden_states=True)
        finally:
            hook.remove()
        out["last_hidden_state"] = base.last_hidden_state
        out["hidden_states"] = torch.stack([*base.hidden_states[:n_layers], last_layer[0]])
        if "mlm" in models:
            out["mlm_logits"] = models["mlm"](**inputs).logits
        if "classifier" in models:
            # Both poolings from the same weights, whatever config.json's classifier_pooling says.
            classifier = models["classifier"]
            configured = classifier.config.classifier_pooling
            try:
                for pooling in ("cls", "mean"):
                    classifier.config.classifier_pooling = pooling
                    out[f"{pooling}_logits"] = classifier(**inputs).logits
            finally:
                classifier.config.classifier_pooling = configured
            out["token_logits"] = models["tokens"](**inputs).logits
        if "qa" in models:
            qa = models["qa"](**inputs)
            out.update(start_logits=qa.start_logits, end_logits=qa.end_logits)
    return {name: t.float().cpu().contiguous() for name, t in out.items()}


def write_outputs(args):
    """--write-outputs: a golden case's inputs through HF, its outputs to a safetensors file (float32)."""
    torch, transformers = import_packages()
    from safetensors.torch import load_file, save_file

    impl = parse_list(args.impl or "sdpa", IMPLS, "--impl")
    dtype = parse_list(args.dtype or "fp32", DTYPES, "--dtype")
    if len(impl) != 1 or len(dtype) != 1:
        fail("--write-outputs takes one --impl and one --dtype")
    if args.device not in ("cpu", "cuda"):
        fail(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: torch.cuda.is_available() is false", 1)
    io_file = os.path.join(args.case, "io.safetensors")
    try:
        io = load_file(io_file)
    except Exception as e:  # a missing or malformed file: one line naming it
        fail(f"{io_file}: cannot read ({e})".replace("\n", " "))
    if "input_ids" not in io or io["input_ids"].dim() != 2:
        fail(f'{io_file}: field "input_ids" must be a [B, L] tensor')
    ids = io["input_ids"].long()
    mask = io["attention_mask"].long() if "attention_mask" in io else torch.ones_like(ids)
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype[0]]
    models = load_case_models(torch, args.case, load_config(args.case), impl[0], torch_dtype, args.device)
    outputs = golden_outputs(torch, models, ids.to(args.device), mask.to(args.device))
    produced = f"torch_peer.py --write-outputs: {versions(torch, transformers)}; {impl[0]} attention; {dtype[0]} on {args.device}"
    save_file(outputs, args.write_outputs, metadata={"format": "pt", "produced_by": produced})
    log(f"wrote {', '.join(outputs)} ({produced}) to {args.write_outputs}")


def padded_batch(torch, sequences, pad_id, device):
    """Right-padded [B, L] input ids and their 0/1 attention mask, as an HF tokenizer would give them."""
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for b, s in enumerate(sequences):
        ids[b, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[b, : len(s)] = 1
    return ids.to(device), mask.to(device)


def measure(torch, model, workload, pad_id, args, cuda):
    """Warm-up, then args.runs timed forward passes of the workload as one padded batch. Returns the row's
    measured columns and the last output's real-token rows ([T, C], packed as the reference packs them)."""
    sequences = workload["sequences"]
    real = sum(len(s) for s in sequences)
    ids, mask = padded_batch(torch, sequences, pad_id, args.device)
    log(f"{workload['name']} {model.config._attn_implementation} {str(model.dtype).removeprefix('torch.')}: {args.warmup} warm-up + {args.runs} runs of {len(sequences)} sequences, {real} real / {ids.numel()} computed tokens")
    times = []
    with torch.inference_mode():
        # The first call is timed on its own and counts as the first warm-up run (benchmarks/timing.ts does the same).
        start = time.perf_counter()
        model(input_ids=ids, attention_mask=mask)
        if cuda:
            torch.cuda.synchronize()
        first = time.perf_counter() - start
        for _ in range(args.warmup - 1):
            model(input_ids=ids, attention_mask=mask)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        for _ in range(args.runs):
            start = time.perf_counter()
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        hidden = out[mask.bool()].float().cpu().contiguous() if args.dump_hidden else None
    median = statistics.median(times)
    setup = "" if cuda else f"; {torch.get_num_threads()} CPU threads"
    if os.environ.get("GLIBC_TUNABLES"):
        # The allocator changes CPU timings several-fold on some machines (benchmarks/peers/index.ts): say so.
        setup += f"; GLIBC_TUNABLES={os.environ['GLIBC_TUNABLES']}"
    row = {
        "name": workload["name"],
        "backend": "torch",
        "sequences": len(sequences),
        "tokens": real,
        "runs": args.runs,
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "tokens_per_s": real / median,
        "first_s": first,
        "peak_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "note": f"padded batch: {ids.numel()} tokens computed for {real} real{setup}",
    }
    return row, hidden


def run_benchmark(args):
    torch, transformers = import_packages()
    impls = parse_list(args.impl, IMPLS, "--impl")
    dtypes = parse_list(args.dtype, DTYPES, "--dtype")
    if args.device not in ("cpu", "cuda"):
        fail(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device == "cpu" and dtypes != ["fp32"]:
        fail("--dtype fp16 and bf16 run only with --device cuda (CPU half precision is not what the paper measures)")
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: torch.cuda.is_available() is false", 1)
    if args.runs < 1 or args.warmup < 0:
        fail("--runs must be >= 1 and --warmup >= 0")
    try:
        common = json.loads(args.common) if args.common else {}
    except ValueError as e:
        fail(f"--common: not valid JSON ({e})")
    if not isinstance(common, dict):
        fail("--common must be a JSON object of result columns")
    workloads = read_workloads(args.workloads)
    cuda = args.device == "cuda"
    adapter = torch.cuda.get_device_name() if cuda else cpu_model()
    torch_dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    dumped = {}

    failures = []
    for dtype in dtypes:
        for impl in impls:
            start = time.perf_counter()
            model = load_model(torch, args.checkpoint, impl, torch_dtypes[dtype], args.device)
            if cuda:
                torch.cuda.synchronize()
            load_seconds = time.perf_counter() - start
            pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
            for w in workloads:
                # One case failing (out of GPU memory with eager attention on long documents) leaves the others.
                try:
                    row, hidden = measure(torch, model, w, pad_id, args, cuda)
                except (RuntimeError, ValueError, IndexError) as e:
                    failures.append(f"{w['name']} {impl} {dtype}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
                    log(f"failed: {failures[-1]}")
                    if cuda:
                        torch.cuda.empty_cache()
                    continue
                if args.dump_hidden and dtype == "fp32":
                    dumped[f"{w['name']}.{impl}"] = hidden
                note = "; ".join(n for n in (common.get("note"), row.pop("note")) if n)
                values = {"kind": "model", **common, **row, "variant": impl, "dtype": dtype, "adapter": adapter, "note": note, "load_s": load_seconds}
                values.update(runtime=f"python {platform.python_version()}", versions=versions(torch, transformers))
                sys.stdout.write(json.dumps({c: values.get(c) for c in RESULT_COLUMNS}) + "\n")
                sys.stdout.flush()
            del model
            if cuda:
                torch.cuda.empty_cache()

    if args.dump_hidden:
        from safetensors.torch import save_file

        save_file(dumped, args.dump_hidden)
        log(f"wrote last_hidden_state of the real tokens to {args.dump_hidden}")
    if failures:
        fail(f"{len(failures)} case(s) failed; the first: {failures[0]}", 1)


def export_onnx(args):
    """An ONNX export for transformers.js: OUT_DIR/config.json and OUT_DIR/onnx/model.onnx (its fp32 file name)."""
    torch, _ = import_packages()
    import shutil

    # Eager attention: the mask is an explicit additive tensor, so the graph is plain MatMul/Softmax and the
    # padding mask stays a graph input (a traced sdpa path could drop it for an all-ones example mask).
    model = load_model(torch, args.checkpoint, "eager", torch.float32, "cpu")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    wrapper = LastHiddenState(model).eval()
    # The example batch has padding and is longer than the local window, so no branch is traced for a special case.
    length = max(24, min(model.config.max_position_embeddings, model.config.local_attention + 16))
    ids, mask = padded_batch(torch, [list(range(5, 5 + length)), list(range(7, 7 + length // 2))], model.config.pad_token_id or 0, "cpu")
    ids = ids.remainder(model.config.vocab_size)
    os.makedirs(os.path.join(args.export_onnx, "onnx"), exist_ok=True)
    target = os.path.join(args.export_onnx, "onnx", "model.onnx")
    log(f"exporting to {target} (opset 17, TorchScript exporter)")
    import warnings

    # The tracer's warnings name branches it froze; verify_onnx below checks the graph on other shapes instead.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (ids, mask),
            target,
            dynamo=False,
            opset_version=17,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"}},
        )
    shutil.copyfile(os.path.join(args.checkpoint, "config.json"), os.path.join(args.export_onnx, "config.json"))
    verify_onnx(torch, wrapper, target, model.config)


def verify_onnx(torch, wrapper, file, config):
    """Runs the export on a batch of another shape than the example and compares with torch: a shape traced
    into the graph as a constant would show here, not later as a wrong benchmark."""
    try:
        import onnxruntime
    except ImportError:
        log("onnxruntime is not installed: the export is not verified")
        return
    session = onnxruntime.InferenceSession(file, providers=["CPUExecutionProvider"])
    # Padded and longer than the example; one unpadded sequence, shorter than the local window.
    for lengths in ([37, 11, 2 * config.local_attention + 9], [13]):
        lengths = [min(n, config.max_position_embeddings) for n in lengths]
        sequences = [[(100 + 7 * i * (b + 1)) % config.vocab_size for i in range(n)] for b, n in enumerate(lengths)]
        ids, mask = padded_batch(torch, sequences, config.pad_token_id or 0, "cpu")
        with torch.inference_mode():
            expected = wrapper(ids, mask)
        (got,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        real = mask.bool()
        diff = float((torch.from_numpy(got)[real] - expected[real]).abs().max())
        if not diff <= 1e-3:
            fail(f"{file}: the ONNX export disagrees with torch on a {tuple(ids.shape)} batch (max abs diff {diff:.3g})", 1)
        log(f"verified the export on a {tuple(ids.shape)} batch: max abs diff {diff:.3g} on real tokens")


def check():
    torch, transformers = import_packages()
    extra = []
    for name in ("onnx", "onnxruntime", "safetensors"):
        try:
            extra.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            extra.append(f"{name} missing")
    cuda = f"cuda {torch.version.cuda} ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else "no cuda"
    print(f"python {platform.python_version()}; {versions(torch, transformers)}; {'; '.join(extra)}; {cuda}")


def main():
    p = argparse.ArgumentParser(description="PyTorch/transformers peer of the modernbert-ts benchmarks: JSON result rows on stdout.")
    p.add_argument("--check", action="store_true", help="print versions and exit 0, or exit 3 with the reason")
    p.add_argument("--checkpoint", help="folder with config.json and model.safetensors")
    p.add_argument("--workloads", help='JSON file {"workloads": [{"name", "sequences": [[ids...], ...]}, ...]}')
    p.add_argument("--impl", help="attention implementations, comma-separated: sdpa, eager (default sdpa,eager; --write-outputs: one, default sdpa)")
    p.add_argument("--dtype", help="fp32 (fp16, bf16 only on cuda), comma-separated (default fp32; --write-outputs: one of fp32, fp16, bf16, on cpu too)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--common", help="JSON object of result columns every row carries (date, commit, device, config, ...)")
    p.add_argument("--dump-hidden", help="also write each workload's fp32 last_hidden_state (real tokens, [T, C]) to this safetensors file")
    p.add_argument("--export-onnx", metavar="OUT_DIR", help="export an ONNX model folder for transformers.js instead of benchmarking")
    p.add_argument("--case", help="a golden case folder (config.json, model.safetensors, io.safetensors), for --write-outputs")
    p.add_argument("--write-outputs", metavar="OUT.safetensors", help="write the case's outputs under the golden names (padded [B, L, ...], float32) instead of benchmarking")
    args = p.parse_args()
    if args.check:
        check()
    elif args.write_outputs:
        if not args.case:
            fail("--write-outputs needs --case")
        write_outputs(args)
    elif args.export_onnx:
        if not args.checkpoint:
            fail("--export-onnx needs --checkpoint")
        export_onnx(args)
    else:
        if not args.checkpoint or not args.workloads:
            fail("give --checkpoint and --workloads (or --check, or --export-onnx)")
        args.impl = args.impl or "sdpa,eager"
        args.dtype = args.dtype or "fp32"
        run_benchmark(args)


if __name__ == "__main__":
    main()
