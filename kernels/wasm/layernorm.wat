;; layernorm.wat: float32 LayerNorm over the last axis with affine weight and bias, SIMD128.
;;
;; For each row of H >= 1 contiguous floats:
;;   mean = sum(x) / H,  var = sum((x - mean)^2) / H  (two passes),  rstd = 1 / sqrt(var + eps)
;;   out  = ((x - mean) * rstd) * w + b,  and mean[row], rstd[row] are written too.
;; All operands contiguous float32 (the host falls back to its reference kernel otherwise).
;; Sums are float32 with four lane-partial sums, so results match a float64 reference to ~1e-6
;; relative, not bit for bit. Threads take chunks of rows from a shared counter; a row is never
;; split, so results do not depend on the thread count.
;;
;; Descriptor fields: rows, H, then the byte addresses x, w, b, out, mean, rstd (i32), eps (f32),
;; chunk (rows per chunk), next (chunk counter, 0 at the start).
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor layernorm rows:i32 H:i32 x:i32 w:i32 b:i32 out:i32 mean:i32 rstd:i32 eps:f32
;; @descriptor+ chunk:i32 next:i32
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Sum of the four lanes, in a fixed order.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func $row (param $x i32) (param $w i32) (param $b i32) (param $out i32) (param $H i32) (param $eps f32)
              (param $meanAt i32) (param $rstdAt i32)
    (local $h i32) (local $vec i32) (local $acc v128) (local $sum f32) (local $mu f32) (local $vmu v128)
    (local $d v128) (local $t f32) (local $rs f32) (local $vrs v128) (local $at i32)
    (local.set $vec (i32.and (local.get $H) (i32.const -4)))
    ;; mean
    (block $sumDone
      (loop $sumLoop
        (br_if $sumDone (i32.ge_u (local.get $h) (local.get $vec)))
        (local.set $acc (f32x4.add (local.get $acc)
          (v128.load (i32.add (local.get $x) (i32.shl (local.get $h) (i32.const 2))))))
        (local.set $h (i32.add (local.get $h) (i32.const 4)))
        (br $sumLoop)))
    (local.set $sum (call $hsum (local.get $acc)))
    (block $sumTailDone
      (loop $sumTail
        (br_if $sumTailDone (i32.ge_u (local.get $h) (local.get $H)))
        (local.set $sum (f32.add (local.get $sum)
          (f32.load (i32.add (local.get $x) (i32.shl (local.get $h) (i32.const 2))))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $sumTail)))
    (local.set $mu (f32.div (local.get $sum) (f32.convert_i32_u (local.get $H))))
    (local.set $vmu (f32x4.splat (local.get $mu)))
    ;; variance
    (local.set $acc (v128.const f32x4 0 0 0 0))
    (local.set $h (i32.const 0))
    (block $varDone
      (loop $varLoop
        (br_if $varDone (i32.ge_u (local.get $h) (local.get $vec)))
        (local.set $d (f32x4.sub
          (v128.load (i32.add (local.get $x) (i32.shl (local.get $h) (i32.const 2))))
          (local.get $vmu)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $h (i32.add (local.get $h) (i32.const 4)))
        (br $varLoop)))
    (local.set $sum (call $hsum (local.get $acc)))
    (block $varTailDone
      (loop $varTail
        (br_if $varTailDone (i32.ge_u (local.get $h) (local.get $H)))
        (local.set $t (f32.sub
          (f32.load (i32.add (local.get $x) (i32.shl (local.get $h) (i32.const 2))))
          (local.get $mu)))
        (local.set $sum (f32.add (local.get $sum) (f32.mul (local.get $t) (local.get $t))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $varTail)))
    (local.set $rs (f32.div (f32.const 1)
      (f32.sqrt (f32.add (f32.div (local.get $sum) (f32.convert_i32_u (local.get $H))) (local.get $eps)))))
    (f32.store (local.get $meanAt) (local.get $mu))
    (f32.store (local.get $rstdAt) (local.get $rs))
    ;; out = ((x - mean) * rstd) * w + b
    (local.set $vrs (f32x4.splat (local.get $rs)))
    (local.set $h (i32.const 0))
    (block $outDone
      (loop $outLoop
        (br_if $outDone (i32.ge_u (local.get $h) (local.get $vec)))
        (local.set $at (i32.shl (local.get $h) (i32.const 2)))
        (v128.store (i32.add (local.get $out) (local.get $at))
          (f32x4.add
            (f32x4.mul
              (f32x4.mul
                (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $at))) (local.get $vmu))
                (local.get $vrs))
              (v128.load (i32.add (local.get $w) (local.get $at))))
            (v128.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $h (i32.add (local.get $h) (i32.const 4)))
        (br $outLoop)))
    (block $outTailDone
      (loop $outTail
        (br_if $outTailDone (i32.ge_u (local.get $h) (local.get $H)))
        (local.set $at (i32.shl (local.get $h) (i32.const 2)))
        (f32.store (i32.add (local.get $out) (local.get $at))
          (f32.add
            (f32.mul
              (f32.mul
                (f32.sub (f32.load (i32.add (local.get $x) (local.get $at))) (local.get $mu))
                (local.get $rs))
              (f32.load (i32.add (local.get $w) (local.get $at))))
            (f32.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $outTail))))

  ;; Entry point: thread $tid takes chunks of rows from the shared counter until none are left.
  (func (export "layernorm") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $rows i32) (local $H i32) (local $r i32) (local $rEnd i32) (local $offset i32) (local $chunk i32)
    (local.set $rows (i32.load offset=@rows (local.get $desc)))
    (local.set $H (i32.load offset=@H (local.get $desc)))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $r (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $rEnd (i32.add (local.get $r) (local.get $chunk)))
        (if (i32.gt_u (local.get $rEnd) (local.get $rows)) (then (local.set $rEnd (local.get $rows))))
        (loop $rowLoop
          (local.set $offset (i32.mul (local.get $r) (i32.shl (local.get $H) (i32.const 2))))
          (call $row
            (i32.add (i32.load offset=@x (local.get $desc)) (local.get $offset))
            (i32.load offset=@w (local.get $desc))
            (i32.load offset=@b (local.get $desc))
            (i32.add (i32.load offset=@out (local.get $desc)) (local.get $offset))
            (local.get $H)
            (f32.load offset=@eps (local.get $desc))
            (i32.add (i32.load offset=@mean (local.get $desc)) (i32.shl (local.get $r) (i32.const 2)))
            (i32.add (i32.load offset=@rstd (local.get $desc)) (i32.shl (local.get $r) (i32.const 2))))
          (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rEnd))))
        (br $chunks))))
)
