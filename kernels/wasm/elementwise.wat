;; elementwise.wat: 4-byte elementwise kernels on strided views, SIMD128: the float32 binary ops
;; (add sub mul div maximum minimum eq ne lt le gt ge), where (float32 or int32 condition), and
;; copy (float32 or int32, bit for bit).
;;
;; The host merges dims (index.ts), so a call sees the output shape as [d0, d1, d2, d3] and each
;; view (out, a, b, c) as a byte address and four byte strides. Element (i0, i1, i2, i3) of view V
;; is at V + i0*s0 + i1*s1 + i2*s2 + i3*s3. Along the innermost dim a view is read as contiguous
;; vectors (s3 = 4), one value splatted (s3 = 0), or gathered lane by lane (any other stride); the
;; output is stored as vectors or lane by lane the same way. Any stride pattern works, so
;; broadcasting (stride 0 anywhere) and transposed operands need no copy.
;;
;; Exactness: add/sub/mul/div are single float32 operations, which equal a float64 result rounded
;; to float32; maximum/minimum select like the reference (a >= b or a is NaN -> a; a <= b or a is
;; NaN -> a); comparisons give 1 or 0 (NaN compares false except ne); where and copy move bits. So
;; results equal RefBackend's bit for bit. Threads take chunks of output elements (row-major) from
;; a shared counter; elements are independent, so the split does not change any result.
;;
;; Descriptor (i32 at byte offsets): 0 op, 4 n (elements), 8 d1, 12 d2, 16 d3 (d0 = n/(d1 d2 d3)),
;;   20 elements per chunk, 24 chunk counter (0 at the start),
;;   32 out, 52 a, 72 b, 92 c: each a byte address followed by byte strides s0 s1 s2 s3.
;; ops: 0 add  1 sub  2 mul  3 div  4 maximum  5 minimum  6 eq  7 ne  8 lt  9 le  10 gt  11 ge
;;      12 where (c float32: c != 0 ? a : b)  13 where (c int32)  14 copy (a)
;; Operands an op does not use may alias a used one (they are loaded, never written).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; One vector of an op: 1.0 / 0.0 for comparisons is the mask ANDed with 1.0's bits.
  (func $apply (param $op i32) (param $a v128) (param $b v128) (param $c v128) (result v128)
    (block $copy (block $whereI (block $whereF
    (block $ge (block $gt (block $le (block $lt (block $ne (block $eq
    (block $min (block $max (block $div (block $mul (block $sub (block $add
      (br_table $add $sub $mul $div $max $min $eq $ne $lt $le $gt $ge $whereF $whereI $copy
        (local.get $op)))
      (return (f32x4.add (local.get $a) (local.get $b))))
      (return (f32x4.sub (local.get $a) (local.get $b))))
      (return (f32x4.mul (local.get $a) (local.get $b))))
      (return (f32x4.div (local.get $a) (local.get $b))))
      (return (v128.bitselect (local.get $a) (local.get $b)
        (v128.or (f32x4.ge (local.get $a) (local.get $b)) (f32x4.ne (local.get $a) (local.get $a))))))
      (return (v128.bitselect (local.get $a) (local.get $b)
        (v128.or (f32x4.le (local.get $a) (local.get $b)) (f32x4.ne (local.get $a) (local.get $a))))))
      (return (v128.and (f32x4.eq (local.get $a) (local.get $b)) (v128.const f32x4 1 1 1 1))))
      (return (v128.and (f32x4.ne (local.get $a) (local.get $b)) (v128.const f32x4 1 1 1 1))))
      (return (v128.and (f32x4.lt (local.get $a) (local.get $b)) (v128.const f32x4 1 1 1 1))))
      (return (v128.and (f32x4.le (local.get $a) (local.get $b)) (v128.const f32x4 1 1 1 1))))
      (return (v128.and (f32x4.gt (local.get $a) (local.get $b)) (v128.const f32x4 1 1 1 1))))
      (return (v128.and (f32x4.ge (local.get $a) (local.get $b)) (v128.const f32x4 1 1 1 1))))
      (return (v128.bitselect (local.get $a) (local.get $b)
        (f32x4.ne (local.get $c) (v128.const f32x4 0 0 0 0)))))
      (return (v128.bitselect (local.get $a) (local.get $b)
        (v128.not (i32x4.eq (local.get $c) (v128.const i32x4 0 0 0 0))))))
    (local.get $a))

  ;; Four lanes $s bytes apart (as raw bits).
  (func $gather (param $p i32) (param $s i32) (result v128)
    (i32x4.replace_lane 3
      (i32x4.replace_lane 2
        (i32x4.replace_lane 1
          (v128.load32_zero (local.get $p))
          (i32.load (i32.add (local.get $p) (local.get $s))))
        (i32.load (i32.add (local.get $p) (i32.shl (local.get $s) (i32.const 1)))))
      (i32.load (i32.add (local.get $p) (i32.mul (local.get $s) (i32.const 3))))))

  ;; Four lanes of a view at $p with inner stride $s; $splat is the value at $p when $s = 0.
  (func $load4 (param $p i32) (param $s i32) (param $splat v128) (result v128)
    (if (result v128) (i32.eq (local.get $s) (i32.const 4))
      (then (v128.load (local.get $p)))
      (else
        (if (result v128) (i32.eqz (local.get $s))
          (then (local.get $splat))
          (else (call $gather (local.get $p) (local.get $s)))))))

  (func $store4 (param $p i32) (param $s i32) (param $v v128)
    (if (i32.eq (local.get $s) (i32.const 4))
      (then (v128.store (local.get $p) (local.get $v)))
      (else
        (i32.store (local.get $p) (i32x4.extract_lane 0 (local.get $v)))
        (i32.store (i32.add (local.get $p) (local.get $s)) (i32x4.extract_lane 1 (local.get $v)))
        (i32.store (i32.add (local.get $p) (i32.shl (local.get $s) (i32.const 1)))
          (i32x4.extract_lane 2 (local.get $v)))
        (i32.store (i32.add (local.get $p) (i32.mul (local.get $s) (i32.const 3)))
          (i32x4.extract_lane 3 (local.get $v))))))

  ;; $len elements along the innermost dim; views at $po, $pa, $pb, $pc with inner strides $so.. .
  (func $segment (param $op i32) (param $len i32)
                 (param $po i32) (param $so i32) (param $pa i32) (param $sa i32)
                 (param $pb i32) (param $sb i32) (param $pc i32) (param $sc i32)
    (local $k i32) (local $va v128) (local $vb v128) (local $vc v128)
    (local $sa4 i32) (local $sb4 i32) (local $sc4 i32) (local $so4 i32)
    (local.set $va (v128.load32_splat (local.get $pa)))
    (local.set $vb (v128.load32_splat (local.get $pb)))
    (local.set $vc (v128.load32_splat (local.get $pc)))
    (local.set $sa4 (i32.shl (local.get $sa) (i32.const 2)))
    (local.set $sb4 (i32.shl (local.get $sb) (i32.const 2)))
    (local.set $sc4 (i32.shl (local.get $sc) (i32.const 2)))
    (local.set $so4 (i32.shl (local.get $so) (i32.const 2)))
    (block $vecDone
      (loop $vecLoop
        (br_if $vecDone (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $len)))
        (call $store4 (local.get $po) (local.get $so)
          (call $apply (local.get $op)
            (call $load4 (local.get $pa) (local.get $sa) (local.get $va))
            (call $load4 (local.get $pb) (local.get $sb) (local.get $vb))
            (call $load4 (local.get $pc) (local.get $sc) (local.get $vc))))
        (local.set $pa (i32.add (local.get $pa) (local.get $sa4)))
        (local.set $pb (i32.add (local.get $pb) (local.get $sb4)))
        (local.set $pc (i32.add (local.get $pc) (local.get $sc4)))
        (local.set $po (i32.add (local.get $po) (local.get $so4)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $vecLoop)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $k) (local.get $len)))
        (i32.store (local.get $po)
          (i32x4.extract_lane 0
            (call $apply (local.get $op)
              (v128.load32_splat (local.get $pa))
              (v128.load32_splat (local.get $pb))
              (v128.load32_splat (local.get $pc)))))
        (local.set $pa (i32.add (local.get $pa) (local.get $sa)))
        (local.set $pb (i32.add (local.get $pb) (local.get $sb)))
        (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
        (local.set $po (i32.add (local.get $po) (local.get $so)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tail))))

  ;; Byte address of element (i0, i1, i2, i3) of the view described at $v.
  (func $address (param $v i32) (param $i0 i32) (param $i1 i32) (param $i2 i32) (param $i3 i32) (result i32)
    (i32.add
      (i32.add (i32.load offset=0 (local.get $v))
        (i32.add
          (i32.mul (local.get $i0) (i32.load offset=4 (local.get $v)))
          (i32.mul (local.get $i1) (i32.load offset=8 (local.get $v)))))
      (i32.add
        (i32.mul (local.get $i2) (i32.load offset=12 (local.get $v)))
        (i32.mul (local.get $i3) (i32.load offset=16 (local.get $v))))))

  ;; Elements [$e, $end) in row-major order, walked innermost-dim segment by segment.
  (func $range (param $desc i32) (param $e i32) (param $end i32)
    (local $d1 i32) (local $d2 i32) (local $d3 i32) (local $t i32)
    (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32) (local $len i32)
    (local.set $d1 (i32.load offset=8 (local.get $desc)))
    (local.set $d2 (i32.load offset=12 (local.get $desc)))
    (local.set $d3 (i32.load offset=16 (local.get $desc)))
    (block $done
      (loop $segments
        (br_if $done (i32.ge_u (local.get $e) (local.get $end)))
        ;; e = ((i0*d1 + i1)*d2 + i2)*d3 + i3
        (local.set $i3 (i32.rem_u (local.get $e) (local.get $d3)))
        (local.set $t (i32.div_u (local.get $e) (local.get $d3)))
        (local.set $i2 (i32.rem_u (local.get $t) (local.get $d2)))
        (local.set $t (i32.div_u (local.get $t) (local.get $d2)))
        (local.set $i1 (i32.rem_u (local.get $t) (local.get $d1)))
        (local.set $i0 (i32.div_u (local.get $t) (local.get $d1)))
        (local.set $len (i32.sub (local.get $d3) (local.get $i3)))
        (if (i32.gt_u (local.get $len) (i32.sub (local.get $end) (local.get $e)))
          (then (local.set $len (i32.sub (local.get $end) (local.get $e)))))
        (call $segment (i32.load offset=0 (local.get $desc)) (local.get $len)
          (call $address (i32.add (local.get $desc) (i32.const 32))
            (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3))
          (i32.load offset=48 (local.get $desc))
          (call $address (i32.add (local.get $desc) (i32.const 52))
            (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3))
          (i32.load offset=68 (local.get $desc))
          (call $address (i32.add (local.get $desc) (i32.const 72))
            (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3))
          (i32.load offset=88 (local.get $desc))
          (call $address (i32.add (local.get $desc) (i32.const 92))
            (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3))
          (i32.load offset=108 (local.get $desc)))
        (local.set $e (i32.add (local.get $e) (local.get $len)))
        (br $segments))))

  ;; Entry point: thread $tid takes chunks of elements from the shared counter until none are left.
  (func (export "elementwise") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $n i32) (local $chunk i32) (local $e i32) (local $end i32)
    (local.set $n (i32.load offset=4 (local.get $desc)))
    (local.set $chunk (i32.load offset=20 (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $e (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=24 (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $end (i32.add (local.get $e) (local.get $chunk)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (call $range (local.get $desc) (local.get $e) (local.get $end))
        (br $chunks))))
)
