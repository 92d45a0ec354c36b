;; adamw.wat: in-place AdamW on contiguous float32 p, m, v with gradient g, SIMD128 in float64.
;;
;; Per element, the operations of adamwScalar (src/tensor/backends/ref.ts) in the same order, in
;; float64 on float32 inputs, each result rounded once to float32 on store:
;;   p = p - lrwd*p;  m = beta1*m + omb1*g;  v = beta2*v + (omb2*g)*g
;;   p = p - (lr*(m/bc1)) / (sqrt(v/bc2) + eps)
;; with lrwd = lr*weightDecay, omb1 = 1 - beta1, omb2 = 1 - beta2, bc1 = 1 - beta1^step,
;; bc2 = 1 - beta2^step computed by the host in float64 exactly as adamwScalar does. IEEE
;; float64 add/sub/mul/div/sqrt are correctly rounded in both, so p, m, v equal the reference bit
;; for bit. Threads take chunks of elements from a shared counter.
;;
;; Descriptor fields: i32 n, p, g, m, v (byte addresses), chunk (elements per chunk, a multiple
;;   of 4), next (chunk counter, 0 at the start); f64 lrwd, beta1, omb1, beta2, omb2, lr, bc1, bc2,
;;   eps
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor adamw n:i32 p:i32 g:i32 m:i32 v:i32 chunk:i32 next:i32 lrwd:f64 beta1:f64 omb1:f64
;; @descriptor+ beta2:f64 omb2:f64 lr:f64 bc1:f64 bc2:f64 eps:f64
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; One element at byte offset $at, scalar float64 (the same operations).
  (func $update1 (param $desc i32) (param $at i32)
    (local $pp i32) (local $pm i32) (local $pv i32) (local $p f64) (local $g f64) (local $m f64) (local $v f64)
    (local.set $pp (i32.add (i32.load offset=@p (local.get $desc)) (local.get $at)))
    (local.set $pm (i32.add (i32.load offset=@m (local.get $desc)) (local.get $at)))
    (local.set $pv (i32.add (i32.load offset=@v (local.get $desc)) (local.get $at)))
    (local.set $p (f64.promote_f32 (f32.load (local.get $pp))))
    (local.set $g (f64.promote_f32 (f32.load (i32.add (i32.load offset=@g (local.get $desc)) (local.get $at)))))
    (local.set $m (f64.promote_f32 (f32.load (local.get $pm))))
    (local.set $v (f64.promote_f32 (f32.load (local.get $pv))))
    (local.set $p (f64.sub (local.get $p) (f64.mul (f64.load offset=@lrwd (local.get $desc)) (local.get $p))))
    (local.set $m (f64.add (f64.mul (f64.load offset=@beta1 (local.get $desc)) (local.get $m))
      (f64.mul (f64.load offset=@omb1 (local.get $desc)) (local.get $g))))
    (local.set $v (f64.add (f64.mul (f64.load offset=@beta2 (local.get $desc)) (local.get $v))
      (f64.mul (f64.mul (f64.load offset=@omb2 (local.get $desc)) (local.get $g)) (local.get $g))))
    (local.set $p (f64.sub (local.get $p)
      (f64.div
        (f64.mul (f64.load offset=@lr (local.get $desc)) (f64.div (local.get $m) (f64.load offset=@bc1 (local.get $desc))))
        (f64.add (f64.sqrt (f64.div (local.get $v) (f64.load offset=@bc2 (local.get $desc))))
          (f64.load offset=@eps (local.get $desc))))))
    (f32.store (local.get $pp) (f32.demote_f64 (local.get $p)))
    (f32.store (local.get $pm) (f32.demote_f64 (local.get $m)))
    (f32.store (local.get $pv) (f32.demote_f64 (local.get $v))))

  ;; The macros V8 lacks (it does not inline wasm calls) are spelled out in the vector loop:
  ;; promote(x) = f64x2.promote_low_f32x4 of x's lanes 0-1, and of lanes 2-3 after a shuffle;
  ;; join(lo, hi) = the two float64 pairs rounded to float32 and packed into one vector.
  (func (export "adamw") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $n i32) (local $chunk i32) (local $e i32) (local $end i32) (local $vecEnd i32)
    (local $pp i32) (local $pg i32) (local $pm i32) (local $pv i32) (local $at i32) (local $x v128)
    (local $p0 v128) (local $p1 v128) (local $g0 v128) (local $g1 v128)
    (local $m0 v128) (local $m1 v128) (local $v0 v128) (local $v1 v128)
    (local $lrwd v128) (local $beta1 v128) (local $omb1 v128) (local $beta2 v128) (local $omb2 v128)
    (local $lr v128) (local $bc1 v128) (local $bc2 v128) (local $eps v128)
    (local.set $n (i32.load offset=@n (local.get $desc)))
    (local.set $pp (i32.load offset=@p (local.get $desc)))
    (local.set $pg (i32.load offset=@g (local.get $desc)))
    (local.set $pm (i32.load offset=@m (local.get $desc)))
    (local.set $pv (i32.load offset=@v (local.get $desc)))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (local.set $lrwd (v128.load64_splat offset=@lrwd (local.get $desc)))
    (local.set $beta1 (v128.load64_splat offset=@beta1 (local.get $desc)))
    (local.set $omb1 (v128.load64_splat offset=@omb1 (local.get $desc)))
    (local.set $beta2 (v128.load64_splat offset=@beta2 (local.get $desc)))
    (local.set $omb2 (v128.load64_splat offset=@omb2 (local.get $desc)))
    (local.set $lr (v128.load64_splat offset=@lr (local.get $desc)))
    (local.set $bc1 (v128.load64_splat offset=@bc1 (local.get $desc)))
    (local.set $bc2 (v128.load64_splat offset=@bc2 (local.get $desc)))
    (local.set $eps (v128.load64_splat offset=@eps (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $e (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $end (i32.add (local.get $e) (local.get $chunk)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (local.set $vecEnd (i32.add (local.get $e)
          (i32.and (i32.sub (local.get $end) (local.get $e)) (i32.const -4))))
        (block $vecDone
          (loop $vecLoop
            (br_if $vecDone (i32.ge_u (local.get $e) (local.get $vecEnd)))
            (local.set $at (i32.shl (local.get $e) (i32.const 2)))
            (local.set $x (v128.load (i32.add (local.get $pp) (local.get $at))))
            (local.set $p0 (f64x2.promote_low_f32x4 (local.get $x)))
            (local.set $p1 (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))
            (local.set $x (v128.load (i32.add (local.get $pg) (local.get $at))))
            (local.set $g0 (f64x2.promote_low_f32x4 (local.get $x)))
            (local.set $g1 (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))
            (local.set $x (v128.load (i32.add (local.get $pm) (local.get $at))))
            (local.set $m0 (f64x2.promote_low_f32x4 (local.get $x)))
            (local.set $m1 (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))
            (local.set $x (v128.load (i32.add (local.get $pv) (local.get $at))))
            (local.set $v0 (f64x2.promote_low_f32x4 (local.get $x)))
            (local.set $v1 (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))
            ;; p -= lrwd*p
            (local.set $p0 (f64x2.sub (local.get $p0) (f64x2.mul (local.get $lrwd) (local.get $p0))))
            (local.set $p1 (f64x2.sub (local.get $p1) (f64x2.mul (local.get $lrwd) (local.get $p1))))
            ;; m = beta1*m + omb1*g
            (local.set $m0 (f64x2.add (f64x2.mul (local.get $beta1) (local.get $m0)) (f64x2.mul (local.get $omb1) (local.get $g0))))
            (local.set $m1 (f64x2.add (f64x2.mul (local.get $beta1) (local.get $m1)) (f64x2.mul (local.get $omb1) (local.get $g1))))
            ;; v = beta2*v + (omb2*g)*g
            (local.set $v0 (f64x2.add (f64x2.mul (local.get $beta2) (local.get $v0))
              (f64x2.mul (f64x2.mul (local.get $omb2) (local.get $g0)) (local.get $g0))))
            (local.set $v1 (f64x2.add (f64x2.mul (local.get $beta2) (local.get $v1))
              (f64x2.mul (f64x2.mul (local.get $omb2) (local.get $g1)) (local.get $g1))))
            ;; p -= (lr*(m/bc1)) / (sqrt(v/bc2) + eps)
            (local.set $p0 (f64x2.sub (local.get $p0)
              (f64x2.div
                (f64x2.mul (local.get $lr) (f64x2.div (local.get $m0) (local.get $bc1)))
                (f64x2.add (f64x2.sqrt (f64x2.div (local.get $v0) (local.get $bc2))) (local.get $eps)))))
            (local.set $p1 (f64x2.sub (local.get $p1)
              (f64x2.div
                (f64x2.mul (local.get $lr) (f64x2.div (local.get $m1) (local.get $bc1)))
                (f64x2.add (f64x2.sqrt (f64x2.div (local.get $v1) (local.get $bc2))) (local.get $eps)))))
            (v128.store (i32.add (local.get $pp) (local.get $at))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $p0)) (f32x4.demote_f64x2_zero (local.get $p1))))
            (v128.store (i32.add (local.get $pm) (local.get $at))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $m0)) (f32x4.demote_f64x2_zero (local.get $m1))))
            (v128.store (i32.add (local.get $pv) (local.get $at))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $v0)) (f32x4.demote_f64x2_zero (local.get $v1))))
            (local.set $e (i32.add (local.get $e) (i32.const 4)))
            (br $vecLoop)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $e) (local.get $end)))
            (call $update1 (local.get $desc) (i32.shl (local.get $e) (i32.const 2)))
            (local.set $e (i32.add (local.get $e) (i32.const 1)))
            (br $tail)))
        (br $chunks))))
)
