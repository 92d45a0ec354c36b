// lib/tree.wgsl: workgroup-wide sum or max of one value per invocation, for kernels with 256
// invocations per workgroup (not a kernel). Every invocation must call these functions (they
// contain barriers); `op` is fold_sum or fold_max (lib/fold.wgsl).
// Determinism: a fixed binary tree in workgroup memory combines the 256 values, so the result
// depends only on the values and their invocation index, never on scheduling.
// Needs a lib/scalar_*.wgsl.
// #include lib/fold.wgsl

var<workgroup> tree: array<T, 256>;
// Results, one slot each, written by invocation 0 and read by all after a barrier.
// (Reading tree[0] from every invocation instead lets Mesa 22.3's llvmpipe sink that load past the
// following barrier, where the next tree pass has already overwritten tree[0].)
// Successive reductions over one row use different slots (softmax: max in 0, sum in 1).
var<workgroup> treeResults: array<T, 2>;

// Combines the invocations' values into tree[0].
fn treeFold(lid: u32, value: T, op: u32) {
  tree[lid] = value;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      if (op == fold_max) {
        tree[lid] = combine_max(tree[lid], tree[lid + s]);
      } else {
        tree[lid] = combine_sum(tree[lid], tree[lid + s]);
      }
    }
    workgroupBarrier();
  }
}

// The result in every invocation, passed through treeResults[slot].
fn treeAll(lid: u32, value: T, op: u32, slot: u32) -> T {
  treeFold(lid, value, op);
  if (lid == 0u) {
    treeResults[slot] = tree[0];
  }
  workgroupBarrier();
  return treeResults[slot];
}

// The result in invocation 0 only (the only writer of tree[0], so its read is safe; the value
// returned to other invocations is unspecified). Cheaper than treeAll when only invocation 0
// stores the result.
fn treeRoot(lid: u32, value: T, op: u32) -> T {
  treeFold(lid, value, op);
  let root = tree[0];
  // the next fold overwrites tree[0]
  workgroupBarrier();
  return root;
}
