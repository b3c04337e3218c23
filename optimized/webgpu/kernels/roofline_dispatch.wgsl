// Roofline: the cost of one dispatch that does nothing, in a chain of dispatches like a forward pass's.
// One thread adds 1 to a counter: every dispatch reads and writes the same storage buffer, so Dawn puts a
// barrier between consecutive dispatches, as it does between the engine's kernels (each reads what the last
// wrote). The counter ends at the number of dispatches run, which the test checks.
// Bindings: 0 counter [1] u32 (read and write). Grid: 1 workgroup of 1 thread. No workgroup memory.
// Work: 8 bytes (not counted: the dispatch itself is what is measured). No FLOPs.
@group(0) @binding(0) var<storage, read_write> counter: array<u32>;

@compute @workgroup_size(1)
fn main() {
  counter[0] += 1u;
}
