;; gelu.wat: the exact-erf GELU and its derivative (the unary ops gelu and gelu_grad), float32,
;; WebAssembly SIMD128.
;;
;; Operands are contiguous float32 at byte addresses (the host falls back to its reference
;; kernels for strided views). Results are not bit-identical to a float64 reference: exp is a
;; polynomial (~1 ulp), the normal CDF a Chebyshev fit of erfc (~1e-7 relative). Threads take
;; chunks of elements from a shared counter, so results do not depend on the thread count.
;;
;; Descriptor fields (i32): n, x, out (byte addresses), grad (0 gelu, 1 gelu_grad), tables
;;   (constant tables), chunk (elements per chunk, a multiple of 4), next (chunk counter, 0 at the
;;   start), scratch (thread t uses 2112 bytes at scratch + t*2112)
;;   Elements go through in blocks of 256: the erfc setup, then exp, then the result, each a
;;   loop over the block (V8 does not inline wasm calls, so a call per vector would dominate).
;;   gelu(x)      = x Phi(x) = 0.5 x (1 + erf(x/sqrt2))
;;   gelu_grad(x) = Phi(x) + x exp(-x^2/2)/sqrt(2 pi)
;;
;; Constants: as in softmax.wat, a table per thread at tables + tid*512 (448 bytes); its exp part
;; is written by softmax.wat's `exp_constants` (imported), the erfc part here.
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor gelu n:i32 x:i32 out:i32 grad:i32 tables:i32 chunk:i32 next:i32 scratch:i32
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "env" "exp_constants" (func $expConstants (param i32)))

  ;; The constant table: exp's part (0..208, softmax.wat's `exp_constants`), then, one f32x4
  ;; splat per 16 bytes: 224 1/sqrt 2   240 0.5   256..400 erfc fit c0..c9 (highest degree first)
  ;;   416 -0.5   432 1/sqrt(2 pi)
  (func $writeConstants (param $k i32)
    (call $expConstants (local.get $k))
    (v128.store offset=224 (local.get $k)
      (v128.const f32x4 0.7071067811865476 0.7071067811865476 0.7071067811865476 0.7071067811865476))
    (v128.store offset=240 (local.get $k) (v128.const f32x4 0.5 0.5 0.5 0.5))
    (v128.store offset=256 (local.get $k) (v128.const f32x4 0.17087277 0.17087277 0.17087277 0.17087277))
    (v128.store offset=272 (local.get $k) (v128.const f32x4 -0.82215223 -0.82215223 -0.82215223 -0.82215223))
    (v128.store offset=288 (local.get $k) (v128.const f32x4 1.48851587 1.48851587 1.48851587 1.48851587))
    (v128.store offset=304 (local.get $k) (v128.const f32x4 -1.13520398 -1.13520398 -1.13520398 -1.13520398))
    (v128.store offset=320 (local.get $k) (v128.const f32x4 0.27886807 0.27886807 0.27886807 0.27886807))
    (v128.store offset=336 (local.get $k) (v128.const f32x4 -0.18628806 -0.18628806 -0.18628806 -0.18628806))
    (v128.store offset=352 (local.get $k) (v128.const f32x4 0.09678418 0.09678418 0.09678418 0.09678418))
    (v128.store offset=368 (local.get $k) (v128.const f32x4 0.37409196 0.37409196 0.37409196 0.37409196))
    (v128.store offset=384 (local.get $k) (v128.const f32x4 1.00002368 1.00002368 1.00002368 1.00002368))
    (v128.store offset=400 (local.get $k) (v128.const f32x4 -1.26551223 -1.26551223 -1.26551223 -1.26551223))
    (v128.store offset=416 (local.get $k) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))
    (v128.store offset=432 (local.get $k)
      (v128.const f32x4 0.3989422804014327 0.3989422804014327 0.3989422804014327 0.3989422804014327)))

  ;; e^x in place on the $n floats at $p ($n a positive multiple of 4): $exp4's operations in a
  ;; loop of their own, since V8 does not inline wasm calls.
  (func $expBlock (param $p i32) (param $n i32) (param $k i32)
    (local $end i32) (local $x v128) (local $t v128) (local $m v128) (local $r v128) (local $r2 v128) (local $q v128)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (loop $l
      (local.set $x (f32x4.pmin (f32x4.pmax (v128.load (local.get $p)) (v128.load offset=0 (local.get $k)))
        (v128.load offset=16 (local.get $k))))
      (local.set $t (f32x4.add (f32x4.mul (local.get $x) (v128.load offset=32 (local.get $k)))
        (v128.load offset=48 (local.get $k))))
      (local.set $m (f32x4.sub (local.get $t) (v128.load offset=48 (local.get $k))))
      (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $m) (v128.load offset=64 (local.get $k)))))
      (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $m) (v128.load offset=80 (local.get $k)))))
      (local.set $r2 (f32x4.mul (local.get $r) (local.get $r)))
      (local.set $q (f32x4.add (f32x4.mul (v128.load offset=96 (local.get $k)) (local.get $r))
        (v128.load offset=112 (local.get $k))))
      (local.set $q (f32x4.add
        (f32x4.add (f32x4.mul (v128.load offset=128 (local.get $k)) (local.get $r)) (v128.load offset=144 (local.get $k)))
        (f32x4.mul (local.get $r2) (local.get $q))))
      (local.set $q (f32x4.add
        (f32x4.add (f32x4.mul (v128.load offset=160 (local.get $k)) (local.get $r)) (v128.load offset=176 (local.get $k)))
        (f32x4.mul (local.get $r2) (local.get $q))))
      (local.set $q (f32x4.add
        (f32x4.add (f32x4.mul (local.get $q) (local.get $r2)) (local.get $r))
        (v128.load offset=192 (local.get $k))))
      (v128.store (local.get $p)
        (f32x4.mul (local.get $q)
          (i32x4.shl (i32x4.add (local.get $t) (v128.load offset=208 (local.get $k))) (i32.const 23))))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $end)))))

  ;; The standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2, through the Chebyshev fit of erfc
  ;; from Numerical Recipes (erfcc, fractional error < 1.2e-7 for z >= 0):
  ;;   erfc(z) = t exp(-z^2 - 1.26551223 + t (1.00002368 + t (... + t 0.17087277))), t = 1/(1 + z/2).
  ;; With z = |x|/sqrt 2, Phi = erfc(z)/2 for x < 0 and 1 - erfc(z)/2 otherwise, so the lower tail
  ;; keeps its relative accuracy (1 + erf(x/sqrt 2) would cancel there).
  ;; Pass 1 of 3 over a block of $n floats at $x: $t[i] = t and $e[i] = the exponent.
  (func $cdfPrepare (param $x i32) (param $t i32) (param $e i32) (param $n i32) (param $k i32)
    (local $end i32) (local $z v128) (local $tv v128) (local $t2 v128) (local $p v128) (local $one v128)
    (local.set $one (v128.load offset=192 (local.get $k)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (loop $l
      (local.set $z (f32x4.mul (f32x4.abs (v128.load (local.get $x))) (v128.load offset=224 (local.get $k))))
      (local.set $tv (f32x4.div (local.get $one)
        (f32x4.add (local.get $one) (f32x4.mul (local.get $z) (v128.load offset=240 (local.get $k))))))
      ;; the degree-9 polynomial c0 t^9 + ... + c9 as q0 + t^2 (q1 + t^2 (q2 + t^2 (q3 + t^2 q4))),
      ;; q_i = c_{8-2i} t + c_{9-2i}: 5 multiply-adds deep instead of 10
      (local.set $t2 (f32x4.mul (local.get $tv) (local.get $tv)))
      (local.set $p (f32x4.add (f32x4.mul (v128.load offset=256 (local.get $k)) (local.get $tv))
        (v128.load offset=272 (local.get $k))))
      (local.set $p (f32x4.add
        (f32x4.add (f32x4.mul (v128.load offset=288 (local.get $k)) (local.get $tv)) (v128.load offset=304 (local.get $k)))
        (f32x4.mul (local.get $t2) (local.get $p))))
      (local.set $p (f32x4.add
        (f32x4.add (f32x4.mul (v128.load offset=320 (local.get $k)) (local.get $tv)) (v128.load offset=336 (local.get $k)))
        (f32x4.mul (local.get $t2) (local.get $p))))
      (local.set $p (f32x4.add
        (f32x4.add (f32x4.mul (v128.load offset=352 (local.get $k)) (local.get $tv)) (v128.load offset=368 (local.get $k)))
        (f32x4.mul (local.get $t2) (local.get $p))))
      (local.set $p (f32x4.add
        (f32x4.add (f32x4.mul (v128.load offset=384 (local.get $k)) (local.get $tv)) (v128.load offset=400 (local.get $k)))
        (f32x4.mul (local.get $t2) (local.get $p))))
      (v128.store (local.get $t) (local.get $tv))
      (v128.store (local.get $e) (f32x4.sub (local.get $p) (f32x4.mul (local.get $z) (local.get $z))))
      (local.set $t (i32.add (local.get $t) (i32.const 16)))
      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br_if $l (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 16))) (local.get $end)))))

  ;; gelu(x) = x Phi(x) and gelu'(x) = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi), for a
  ;; block of $n floats (a positive multiple of 4, at most 256) at $x into $out. Scratch at $scr:
  ;; t at +0, the exponents at +1024 (1 KiB each).
  (func $geluBlock (param $x i32) (param $out i32) (param $n i32) (param $grad i32) (param $k i32) (param $scr i32)
    (local $i i32) (local $bytes i32) (local $v v128) (local $half v128) (local $cdf v128)
    (local $t i32) (local $e i32)
    (local.set $t (local.get $scr))
    (local.set $e (i32.add (local.get $scr) (i32.const 1024)))
    (local.set $bytes (i32.shl (local.get $n) (i32.const 2)))
    (call $cdfPrepare (local.get $x) (local.get $t) (local.get $e) (local.get $n) (local.get $k))
    (call $expBlock (local.get $e) (local.get $n) (local.get $k))
    ;; half = erfc(z) / 2 = (t e^...) / 2; Phi = half below 0, else 1 - half
    (loop $l
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
      (local.set $half (f32x4.mul
        (f32x4.mul (v128.load (i32.add (local.get $t) (local.get $i))) (v128.load (i32.add (local.get $e) (local.get $i))))
        (v128.load offset=240 (local.get $k))))
      (local.set $cdf (v128.bitselect
        (local.get $half)
        (f32x4.sub (v128.load offset=192 (local.get $k)) (local.get $half))
        (f32x4.lt (local.get $v) (v128.const f32x4 0 0 0 0))))
      (if (local.get $grad)
        (then
          ;; keep Phi in t; the exponent of phi, x^2 * -0.5, in e
          (v128.store (i32.add (local.get $t) (local.get $i)) (local.get $cdf))
          (v128.store (i32.add (local.get $e) (local.get $i))
            (f32x4.mul (f32x4.mul (local.get $v) (local.get $v)) (v128.load offset=416 (local.get $k)))))
        (else
          (v128.store (i32.add (local.get $out) (local.get $i)) (f32x4.mul (local.get $v) (local.get $cdf)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $bytes))))
    (if (local.get $grad)
      (then
        (call $expBlock (local.get $e) (local.get $n) (local.get $k))
        (local.set $i (i32.const 0))
        (loop $l
          (v128.store (i32.add (local.get $out) (local.get $i))
            (f32x4.add
              (v128.load (i32.add (local.get $t) (local.get $i)))
              (f32x4.mul
                (v128.load (i32.add (local.get $x) (local.get $i)))
                (f32x4.mul (v128.load (i32.add (local.get $e) (local.get $i))) (v128.load offset=432 (local.get $k))))))
          (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $bytes)))))))

  ;; gelu or gelu_grad of elements [$e, $end): blocks of 256, then the last 1-3 elements as one
  ;; vector padded with zeros in scratch (+2048).
  (func $geluRange (param $x i32) (param $out i32) (param $e i32) (param $end i32) (param $grad i32)
                   (param $k i32) (param $scr i32)
    (local $n i32) (local $j i32) (local $pad i32)
    (block $vecDone
      (loop $blocks
        (local.set $n (i32.and (i32.sub (local.get $end) (local.get $e)) (i32.const -4)))
        (br_if $vecDone (i32.eqz (local.get $n)))
        (if (i32.gt_u (local.get $n) (i32.const 256)) (then (local.set $n (i32.const 256))))
        (call $geluBlock
          (i32.add (local.get $x) (i32.shl (local.get $e) (i32.const 2)))
          (i32.add (local.get $out) (i32.shl (local.get $e) (i32.const 2)))
          (local.get $n) (local.get $grad) (local.get $k) (local.get $scr))
        (local.set $e (i32.add (local.get $e) (local.get $n)))
        (br $blocks)))
    (local.set $n (i32.sub (local.get $end) (local.get $e)))
    (if (local.get $n)
      (then
        (local.set $pad (i32.add (local.get $scr) (i32.const 2048)))
        (v128.store (local.get $pad) (v128.const f32x4 0 0 0 0))
        (loop $in
          (f32.store (i32.add (local.get $pad) (i32.shl (local.get $j) (i32.const 2)))
            (f32.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $e) (local.get $j)) (i32.const 2)))))
          (br_if $in (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $n))))
        (call $geluBlock (local.get $pad) (i32.add (local.get $pad) (i32.const 16)) (i32.const 4)
          (local.get $grad) (local.get $k) (local.get $scr))
        (local.set $j (i32.const 0))
        (loop $back
          (f32.store (i32.add (local.get $out) (i32.shl (i32.add (local.get $e) (local.get $j)) (i32.const 2)))
            (f32.load offset=16 (i32.add (local.get $pad) (i32.shl (local.get $j) (i32.const 2)))))
          (br_if $back (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $n)))))))

  ;; Entry point: thread $tid takes chunks of elements from the shared counter until none are left.
  (func (export "gelu") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $n i32) (local $chunk i32) (local $e i32) (local $end i32) (local $k i32) (local $scr i32)
    (local.set $k (i32.add (i32.load offset=@tables (local.get $desc)) (i32.shl (local.get $tid) (i32.const 9))))
    (call $writeConstants (local.get $k))
    (local.set $scr (i32.add (i32.load offset=@scratch (local.get $desc)) (i32.mul (local.get $tid) (i32.const 2112))))
    (local.set $n (i32.load offset=@n (local.get $desc)))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $e (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $end (i32.add (local.get $e) (local.get $chunk)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (call $geluRange
          (i32.load offset=@x (local.get $desc)) (i32.load offset=@out (local.get $desc))
          (local.get $e) (local.get $end) (i32.load offset=@grad (local.get $desc)) (local.get $k) (local.get $scr))
        (br $chunks))))
)
