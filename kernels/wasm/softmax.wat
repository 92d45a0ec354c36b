;; softmax.wat: float32 softmax / log-softmax over the last axis, WebAssembly SIMD128.
;;
;; Operands are contiguous float32 at byte addresses (the host falls back to its reference
;; kernels for strided views). Results are not bit-identical to a float64 reference: exp is a
;; polynomial (~1 ulp); reductions are float32 with four lane-partial sums. Threads take chunks of
;; rows from a shared counter; a row is never split, so results do not depend on the thread count.
;;
;; Descriptor fields (i32): rows, C (row length >= 1), x, out (byte addresses), log (0 or 1),
;;   tables (constant tables, see below), chunk (rows per chunk), next (chunk counter, 0 at start)
;;   softmax:     out = exp(x - max) / sum(exp(x - max))
;;   log-softmax: out = (x - max) - log(sum(exp(x - max)))
;;
;; Constants: V8 builds each v128.const with three instructions wherever it is used, so every
;; entry point first writes the constants it needs to a table of its own thread (at
;; tables + tid*512) and the helpers load them from there, one instruction each. The exp part of
;; the table is exported as `exp_constants` for gelu.wat, which shares the same exp.
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor softmax rows:i32 C:i32 x:i32 out:i32 log:i32 tables:i32 chunk:i32 next:i32
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; The exp constant table, one f32x4 (or i32x4) splat per 16 bytes:
  ;;   0 -88   16 88   32 log2 e   48 1.5*2^23 (rounding)   64 ln2 high   80 ln2 low
  ;;   96..176 exp polynomial p0..p5   192 1   208 i32 127
  (func $writeConstants (export "exp_constants") (param $k i32)
    (v128.store offset=0 (local.get $k) (v128.const f32x4 -88 -88 -88 -88))
    (v128.store offset=16 (local.get $k) (v128.const f32x4 88 88 88 88))
    (v128.store offset=32 (local.get $k)
      (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
    (v128.store offset=48 (local.get $k) (v128.const f32x4 12582912 12582912 12582912 12582912))
    (v128.store offset=64 (local.get $k) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
    (v128.store offset=80 (local.get $k)
      (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
    (v128.store offset=96 (local.get $k)
      (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (v128.store offset=112 (local.get $k)
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3))
    (v128.store offset=128 (local.get $k)
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3))
    (v128.store offset=144 (local.get $k)
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2))
    (v128.store offset=160 (local.get $k)
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1))
    (v128.store offset=176 (local.get $k)
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1))
    (v128.store offset=192 (local.get $k) (v128.const f32x4 1 1 1 1))
    (v128.store offset=208 (local.get $k) (v128.const i32x4 127 127 127 127)))

  ;; e^x on four lanes (Cephes expf): n = round(x log2 e), r = x - n ln2 in two parts, e^r by a
  ;; degree-6 polynomial, times 2^n built in the exponent bits. x is clamped to [-88, 88] (pmax /
  ;; pmin keep NaN), so x <= -87.9 gives exactly 0 and no subnormal. Rounding adds 1.5*2^23: the
  ;; sum's float bits are then 0x4b400000 + n, and (bits + 127) << 23 is the float 2^n.
  (func $exp4 (param $x v128) (param $k i32) (result v128)
    (local $t v128) (local $n v128) (local $r v128) (local $r2 v128) (local $p v128)
    (local.set $x (f32x4.pmin (f32x4.pmax (local.get $x) (v128.load offset=0 (local.get $k)))
      (v128.load offset=16 (local.get $k))))
    (local.set $t (f32x4.add (f32x4.mul (local.get $x) (v128.load offset=32 (local.get $k)))
      (v128.load offset=48 (local.get $k))))
    (local.set $n (f32x4.sub (local.get $t) (v128.load offset=48 (local.get $k))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.load offset=64 (local.get $k)))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.load offset=80 (local.get $k)))))
    ;; p = (p4 r + p5) + r^2 ((p2 r + p3) + r^2 (p0 r + p1)): pairs first, so the dependency
    ;; chain is 3 multiply-adds deep instead of 6
    (local.set $r2 (f32x4.mul (local.get $r) (local.get $r)))
    (local.set $p (f32x4.add (f32x4.mul (v128.load offset=96 (local.get $k)) (local.get $r))
      (v128.load offset=112 (local.get $k))))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (v128.load offset=128 (local.get $k)) (local.get $r)) (v128.load offset=144 (local.get $k)))
      (f32x4.mul (local.get $r2) (local.get $p))))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (v128.load offset=160 (local.get $k)) (local.get $r)) (v128.load offset=176 (local.get $k)))
      (f32x4.mul (local.get $r2) (local.get $p))))
    ;; e^r = p r^2 + r + 1
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (local.get $r2)) (local.get $r))
      (v128.load offset=192 (local.get $k))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (local.get $t) (v128.load offset=208 (local.get $k))) (i32.const 23))))

  ;; Natural log in float64 for a positive finite x (NaN gives NaN): x = m 2^e with m in
  ;; [sqrt(1/2), sqrt 2), log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.172, summed to s^15
  ;; (error < 1e-12).
  (func $log (param $x f64) (result f64)
    (local $bits i64) (local $e f64) (local $m f64) (local $s f64) (local $s2 f64) (local $sum f64)
    (if (f64.ne (local.get $x) (local.get $x)) (then (return (local.get $x))))
    (local.set $bits (i64.reinterpret_f64 (local.get $x)))
    (local.set $e (f64.convert_i64_s
      (i64.sub (i64.shr_u (local.get $bits) (i64.const 52)) (i64.const 1023))))
    ;; the mantissa with the exponent of 1.0: m in [1, 2)
    (local.set $m (f64.reinterpret_i64
      (i64.or (i64.and (local.get $bits) (i64.const 0x000fffffffffffff)) (i64.const 0x3ff0000000000000))))
    (if (f64.gt (local.get $m) (f64.const 1.4142135623730951))
      (then
        (local.set $m (f64.mul (local.get $m) (f64.const 0.5)))
        (local.set $e (f64.add (local.get $e) (f64.const 1)))))
    (local.set $s (f64.div (f64.sub (local.get $m) (f64.const 1)) (f64.add (local.get $m) (f64.const 1))))
    (local.set $s2 (f64.mul (local.get $s) (local.get $s)))
    (local.set $sum (f64.const 0.06666666666666667))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 0.07692307692307693)))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 0.09090909090909091)))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 0.1111111111111111)))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 0.14285714285714285)))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 0.2)))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 0.3333333333333333)))
    (local.set $sum (f64.add (f64.mul (local.get $sum) (local.get $s2)) (f64.const 1)))
    (f64.add
      (f64.mul (local.get $e) (f64.const 0.6931471805599453))
      (f64.mul (f64.mul (f64.const 2) (local.get $s)) (local.get $sum))))

  ;; Softmax of one row of C >= 1 floats at $x into $out.
  (func $softmaxRow (param $x i32) (param $out i32) (param $C i32) (param $log i32) (param $k i32)
    (local $c i32) (local $vec i32) (local $max f32) (local $vmax v128) (local $vsum v128) (local $sum f32)
    (local $e v128) (local $lse f32) (local $vlse v128) (local $vs v128) (local $t f32)
    ;; $vec: the length covered by whole vectors
    (local.set $vec (i32.and (local.get $C) (i32.const -4)))
    ;; max
    (local.set $vmax (v128.const f32x4 -inf -inf -inf -inf))
    (block $maxDone
      (loop $maxLoop
        (br_if $maxDone (i32.ge_u (local.get $c) (local.get $vec)))
        (local.set $vmax (f32x4.pmax (local.get $vmax)
          (v128.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $maxLoop)))
    (local.set $max (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $vmax)) (f32x4.extract_lane 1 (local.get $vmax)))
      (f32.max (f32x4.extract_lane 2 (local.get $vmax)) (f32x4.extract_lane 3 (local.get $vmax)))))
    (block $maxTailDone
      (loop $maxTail
        (br_if $maxTailDone (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $max (f32.max (local.get $max)
          (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2))))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $maxTail)))
    ;; out = exp(x - max), summed
    (local.set $vmax (f32x4.splat (local.get $max)))
    (local.set $c (i32.const 0))
    (block $expDone
      (loop $expLoop
        (br_if $expDone (i32.ge_u (local.get $c) (local.get $vec)))
        (local.set $e (call $exp4
          (f32x4.sub (v128.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))) (local.get $vmax))
          (local.get $k)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))) (local.get $e))
        (local.set $vsum (f32x4.add (local.get $vsum) (local.get $e)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $expLoop)))
    (local.set $sum (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $vsum)) (f32x4.extract_lane 1 (local.get $vsum)))
      (f32.add (f32x4.extract_lane 2 (local.get $vsum)) (f32x4.extract_lane 3 (local.get $vsum)))))
    (block $expTailDone
      (loop $expTail
        (br_if $expTailDone (i32.ge_u (local.get $c) (local.get $C)))
        (local.set $t (f32x4.extract_lane 0 (call $exp4
          (f32x4.splat (f32.sub (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))) (local.get $max)))
          (local.get $k))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))) (local.get $t))
        (local.set $sum (f32.add (local.get $sum) (local.get $t)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $expTail)))
    (local.set $c (i32.const 0))
    (if (local.get $log)
      (then
        ;; out = (x - max) - log(sum)
        (local.set $lse (f32.demote_f64 (call $log (f64.promote_f32 (local.get $sum)))))
        (local.set $vlse (f32x4.splat (local.get $lse)))
        (block $logDone
          (loop $logLoop
            (br_if $logDone (i32.ge_u (local.get $c) (local.get $vec)))
            (v128.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))
              (f32x4.sub
                (f32x4.sub (v128.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))) (local.get $vmax))
                (local.get $vlse)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $logLoop)))
        (block $logTailDone
          (loop $logTail
            (br_if $logTailDone (i32.ge_u (local.get $c) (local.get $C)))
            (f32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))
              (f32.sub
                (f32.sub (f32.load (i32.add (local.get $x) (i32.shl (local.get $c) (i32.const 2)))) (local.get $max))
                (local.get $lse)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $logTail))))
      (else
        ;; out = e / sum
        (local.set $vs (f32x4.splat (local.get $sum)))
        (block $divDone
          (loop $divLoop
            (br_if $divDone (i32.ge_u (local.get $c) (local.get $vec)))
            (v128.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))
              (f32x4.div (v128.load (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))) (local.get $vs)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $divLoop)))
        (block $divTailDone
          (loop $divTail
            (br_if $divTailDone (i32.ge_u (local.get $c) (local.get $C)))
            (f32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))
              (f32.div (f32.load (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2)))) (local.get $sum)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $divTail))))))

  ;; Entry point: thread $tid takes chunks of rows from the shared counter until none are left.
  (func (export "softmax") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $rows i32) (local $C i32) (local $r i32) (local $rEnd i32) (local $rowBytes i32) (local $k i32)
    (local $chunk i32)
    (local.set $k (i32.add (i32.load offset=@tables (local.get $desc)) (i32.shl (local.get $tid) (i32.const 9))))
    (call $writeConstants (local.get $k))
    (local.set $rows (i32.load offset=@rows (local.get $desc)))
    (local.set $C (i32.load offset=@C (local.get $desc)))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (block $done
      (loop $chunks
        (local.set $r (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $rEnd (i32.add (local.get $r) (local.get $chunk)))
        (if (i32.gt_u (local.get $rEnd) (local.get $rows)) (then (local.set $rEnd (local.get $rows))))
        (loop $rowLoop
          (call $softmaxRow
            (i32.add (i32.load offset=@x (local.get $desc)) (i32.mul (local.get $r) (local.get $rowBytes)))
            (i32.add (i32.load offset=@out (local.get $desc)) (i32.mul (local.get $r) (local.get $rowBytes)))
            (local.get $C)
            (i32.load offset=@log (local.get $desc))
            (local.get $k))
          (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rEnd))))
        (br $chunks))))
)
