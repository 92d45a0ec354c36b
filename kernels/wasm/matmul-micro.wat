;; matmul-micro.wat: the 4x8 micro-kernel of matmul.wat, with separate multiply and add (SIMD128).
;;
;; acc[r][c] = sum over k of pa[k*4 + r] * pb[k*8 + c], kc >= 1 steps in k order from 0, each step
;; acc += a*b as f32x4.mul then f32x4.add (two roundings); then C[r, c] = acc (when first) or
;; C[r, c] + acc. pa, pb: packed panels (see matmul.wat); rows of C are ldcb bytes apart.
;; The variant used where relaxed SIMD is unavailable (or RETROGRAD_CPU_FMA=0).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; The 4x8 micro-kernel: acc[r][c] = sum over k of pa[k*4 + r] * pb[k*8 + c], kc >= 1 steps in
  ;; k order from 0; then C[r, c] = acc (when $first) or C[r, c] + acc. Rows of C are $ldcb bytes
  ;; apart. Register tile: $cR0 holds columns 0-3 of row R, $cR1 columns 4-7.
  (func (export "matmul_micro") (param $pa i32) (param $pb i32) (param $kc i32) (param $c i32) (param $ldcb i32) (param $first i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128)
    (local $row1 i32) (local $row2 i32) (local $row3 i32)
    (loop $k
      (local.set $b0 (v128.load (local.get $pb)))
      (local.set $b1 (v128.load offset=16 (local.get $pb)))
      (local.set $a (v128.load32_splat (local.get $pa)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=8 (local.get $pa)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=12 (local.get $pa)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (local.set $row1 (i32.add (local.get $c) (local.get $ldcb)))
    (local.set $row2 (i32.add (local.get $row1) (local.get $ldcb)))
    (local.set $row3 (i32.add (local.get $row2) (local.get $ldcb)))
    (if (i32.eqz (local.get $first))
      (then
        (local.set $c00 (f32x4.add (v128.load (local.get $c)) (local.get $c00)))
        (local.set $c01 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c01)))
        (local.set $c10 (f32x4.add (v128.load (local.get $row1)) (local.get $c10)))
        (local.set $c11 (f32x4.add (v128.load offset=16 (local.get $row1)) (local.get $c11)))
        (local.set $c20 (f32x4.add (v128.load (local.get $row2)) (local.get $c20)))
        (local.set $c21 (f32x4.add (v128.load offset=16 (local.get $row2)) (local.get $c21)))
        (local.set $c30 (f32x4.add (v128.load (local.get $row3)) (local.get $c30)))
        (local.set $c31 (f32x4.add (v128.load offset=16 (local.get $row3)) (local.get $c31)))))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (v128.store (local.get $row1) (local.get $c10))
    (v128.store offset=16 (local.get $row1) (local.get $c11))
    (v128.store (local.get $row2) (local.get $c20))
    (v128.store offset=16 (local.get $row2) (local.get $c21))
    (v128.store (local.get $row3) (local.get $c30))
    (v128.store offset=16 (local.get $row3) (local.get $c31)))
)
