// lib/fold.wgsl: the reduction operators over element type T, by name (identity_<op>(),
// combine_<op>(a, b) and the id fold_<op> for op = sum, max), so that a kernel can pick one with
// a substituted op name: not a kernel.
// Needs a lib/scalar_*.wgsl.

fn identity_sum() -> T { return T(0); }
fn combine_sum(a: T, b: T) -> T { return a + b; }
fn identity_max() -> T { return lowest(); }
// propagates NaN from either side, as the reference backend does
fn combine_max(a: T, b: T) -> T { return maxNan(a, b); }

// operator ids, for functions that take the operator as an argument (lib/tree.wgsl)
const fold_sum = 0u;
const fold_max = 1u;
