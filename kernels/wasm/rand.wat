;; rand.wat: `rand`, counter-based uniform [0, 1) float32 noise, SIMD128.
;;
;; out[i] = hashUniform(seed, i) of src/tensor/backend.ts, bit for bit, four indices per vector:
;;   k = seed * 0x9e3779b9 (the host passes k),  h = fmix32(fmix32(i ^ k) + k),
;;   out = (h >>> 8) * 2^-24  (exact in float32)
;; fmix32 is murmur3's finaliser; i32x4.mul keeps the low 32 bits like Math.imul.
;; Threads take chunks of elements from a shared counter.
;;
;; Descriptor fields (i32): n, out (byte address), k, chunk (elements per chunk, a multiple of 4),
;;   next (chunk counter, 0 at the start)
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor rand n:i32 out:i32 k:i32 chunk:i32 next:i32
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func $fmix4 (param $h v128) (result v128)
    (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32x4.mul (local.get $h) (i32x4.splat (i32.const 0x85ebca6b))))
    (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32x4.mul (local.get $h) (i32x4.splat (i32.const 0xc2b2ae35))))
    (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))

  ;; hashUniform of the four indices in $i
  (func $uniform4 (param $i v128) (param $k v128) (result v128)
    (f32x4.mul
      (f32x4.convert_i32x4_s
        (i32x4.shr_u
          (call $fmix4 (i32x4.add (call $fmix4 (v128.xor (local.get $i) (local.get $k))) (local.get $k)))
          (i32.const 8)))
      (f32x4.splat (f32.const 0x1p-24))))

  (func (export "rand") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $n i32) (local $out i32) (local $k v128) (local $chunk i32) (local $e i32) (local $end i32)
    (local $vecEnd i32) (local $idx v128) (local $h v128)
    (local $m1 v128) (local $m2 v128) (local $scale v128) (local $four v128)
    (local.set $m1 (i32x4.splat (i32.const 0x85ebca6b)))
    (local.set $m2 (i32x4.splat (i32.const 0xc2b2ae35)))
    (local.set $scale (f32x4.splat (f32.const 0x1p-24)))
    (local.set $four (i32x4.splat (i32.const 4)))
    (local.set $n (i32.load offset=@n (local.get $desc)))
    (local.set $out (i32.load offset=@out (local.get $desc)))
    (local.set $k (i32x4.splat (i32.load offset=@k (local.get $desc))))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $e (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $end (i32.add (local.get $e) (local.get $chunk)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (local.set $vecEnd (i32.add (local.get $e)
          (i32.and (i32.sub (local.get $end) (local.get $e)) (i32.const -4))))
        ;; idx = (e, e+1, e+2, e+3)
        (local.set $idx (i32x4.add (i32x4.splat (local.get $e)) (v128.const i32x4 0 1 2 3)))
        ;; the vector loop repeats $uniform4 inline (V8 does not inline wasm calls)
        (block $vecDone
          (loop $vecLoop
            (br_if $vecDone (i32.ge_u (local.get $e) (local.get $vecEnd)))
            ;; h = fmix32(idx ^ k)
            (local.set $h (v128.xor (local.get $idx) (local.get $k)))
            (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
            (local.set $h (i32x4.mul (local.get $h) (local.get $m1)))
            (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 13))))
            (local.set $h (i32x4.mul (local.get $h) (local.get $m2)))
            (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
            ;; h = fmix32(h + k)
            (local.set $h (i32x4.add (local.get $h) (local.get $k)))
            (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
            (local.set $h (i32x4.mul (local.get $h) (local.get $m1)))
            (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 13))))
            (local.set $h (i32x4.mul (local.get $h) (local.get $m2)))
            (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
            (v128.store (i32.add (local.get $out) (i32.shl (local.get $e) (i32.const 2)))
              (f32x4.mul (f32x4.convert_i32x4_s (i32x4.shr_u (local.get $h) (i32.const 8))) (local.get $scale)))
            (local.set $idx (i32x4.add (local.get $idx) (local.get $four)))
            (local.set $e (i32.add (local.get $e) (i32.const 4)))
            (br $vecLoop)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $e) (local.get $end)))
            (f32.store (i32.add (local.get $out) (i32.shl (local.get $e) (i32.const 2)))
              (f32x4.extract_lane 0 (call $uniform4 (i32x4.splat (local.get $e)) (local.get $k))))
            (local.set $e (i32.add (local.get $e) (i32.const 1)))
            (br $tail)))
        (br $chunks))))
)
