// lib/grid.wgsl: the dispatch grid of every kernel (not a kernel). Dispatches are 2-D (x, y)
// grids of workgroups; kernels walk their work in grid-stride loops, so any problem size runs
// within the 65535-workgroups-per-dimension limit.

// Linear id of this workgroup in the 2-D dispatch, and the number of workgroups launched.
fn groupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

fn groupCount(nwg: vec3<u32>) -> u32 {
  return nwg.x * nwg.y;
}
