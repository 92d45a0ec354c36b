;; elementwise.wat: 4-byte elementwise kernels on strided views, SIMD128: the float32 binary ops
;; (add sub mul div maximum minimum eq ne lt le gt ge), where (float32 or int32 condition), and
;; copy (float32 or int32, bit for bit).
;;
;; The host merges dims (index.ts), so a call sees the output shape as [d0, d1, d2, d3] and each
;; view (out, a, b, c) as a byte address and four byte strides. Element (i0, i1, i2, i3) of view V
;; is at V + i0*s0 + i1*s1 + i2*s2 + i3*s3. Any stride pattern works, so broadcasting (stride 0
;; anywhere) and transposed operands need no copy from the caller.
;;
;; How: when every view the op uses is contiguous along the innermost dim (and rows are whole
;; vectors), runs of whole rows go to one tight loop per row (attention's head split and merge
;; copy rows of 64). Otherwise the innermost dim is cut into blocks of up to 256 elements. An operand that is contiguous
;; along it (s3 = 4) is read in place; a broadcast one (s3 = 0) is splatted into the thread's
;; scratch once per row; any other stride is gathered into scratch per block. The output is
;; written in place when contiguous, else through scratch and scattered. Then one tight loop per
;; op runs over the block (the op is dispatched once per block, not per vector). The last 1-3
;; elements of a row go through scratch as one padded vector.
;;
;; Exactness: add/sub/mul/div are single float32 operations, which equal a float64 result rounded
;; to float32; maximum/minimum select like the reference (a >= b or a is NaN -> a; a <= b or a is
;; NaN -> a); comparisons give 1 or 0 (NaN compares false except ne); where and copy move bits. So
;; results equal RefBackend's bit for bit. Threads take chunks of output elements (row-major) from
;; a shared counter; elements are independent, so the split does not change any result.
;;
;; Descriptor fields (i32): op, n (elements), d1, d2, d3 (d0 = n/(d1 d2 d3)), chunk (elements per
;;   chunk), next (chunk counter, 0 at the start), scratch (byte address; thread t uses 4 KiB at
;;   scratch + t*4096), then out, a, b, c: each 5 words, a byte address followed by byte strides
;;   s0 s1 s2 s3 (@out.4 is out's s3).
;; ops: 0 add  1 sub  2 mul  3 div  4 maximum  5 minimum  6 eq  7 ne  8 lt  9 le  10 gt  11 ge
;;      12 where (c float32: c != 0 ? a : b)  13 where (c int32)  14 copy (a)
;; Operands an op does not use are ignored.
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor elementwise op:i32 n:i32 d1:i32 d2:i32 d3:i32 chunk:i32 next:i32 scratch:i32
;; @descriptor+ out:i32x5 a:i32x5 b:i32x5 c:i32x5
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; out[0 : n] = op(a, b, c) for contiguous blocks at byte addresses $d, $a, $b, $c; n is a
  ;; positive multiple of 4.
  (func $kernel (param $op i32) (param $d i32) (param $a i32) (param $b i32) (param $c i32) (param $n i32)
    (local $end i32) (local $one v128) (local $zero v128) (local $va v128) (local $vb v128)
    (local.set $end (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (block $copy (block $whereI (block $whereF
    (block $ge (block $gt (block $le (block $lt (block $ne (block $eq
    (block $min (block $max (block $div (block $mul (block $sub (block $add
      (br_table $add $sub $mul $div $max $min $eq $ne $lt $le $gt $ge $whereF $whereI $copy
        (local.get $op)))
      (loop $l
        (v128.store (local.get $d) (f32x4.add (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d) (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d) (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d) (f32x4.div (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      ;; maximum: a where a >= b or a is NaN, else b
      (loop $l
        (v128.store (local.get $d)
          (v128.bitselect (local.tee $va (v128.load (local.get $a))) (local.tee $vb (v128.load (local.get $b)))
            (v128.or (f32x4.ge (local.get $va) (local.get $vb)) (f32x4.ne (local.get $va) (local.get $va)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      ;; minimum: a where a <= b or a is NaN, else b
      (loop $l
        (v128.store (local.get $d)
          (v128.bitselect (local.tee $va (v128.load (local.get $a))) (local.tee $vb (v128.load (local.get $b)))
            (v128.or (f32x4.le (local.get $va) (local.get $vb)) (f32x4.ne (local.get $va) (local.get $va)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      ;; comparisons: the all-ones mask ANDed with the bits of 1.0
      (loop $l
        (v128.store (local.get $d)
          (v128.and (f32x4.eq (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $one)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d)
          (v128.and (f32x4.ne (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $one)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d)
          (v128.and (f32x4.lt (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $one)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d)
          (v128.and (f32x4.le (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $one)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d)
          (v128.and (f32x4.gt (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $one)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      (loop $l
        (v128.store (local.get $d)
          (v128.and (f32x4.ge (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $one)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      ;; where, float32 condition: c != 0 (NaN counts as true, -0 as false)
      (loop $l
        (v128.store (local.get $d)
          (v128.bitselect (v128.load (local.get $a)) (v128.load (local.get $b))
            (f32x4.ne (v128.load (local.get $c)) (local.get $zero))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
      ;; where, int32 condition
      (loop $l
        (v128.store (local.get $d)
          (v128.bitselect (v128.load (local.get $a)) (v128.load (local.get $b))
            (v128.not (i32x4.eq (v128.load (local.get $c)) (local.get $zero)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))
      (return))
    ;; copy
    (loop $l
      (v128.store (local.get $d) (v128.load (local.get $a)))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (br_if $l (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end)))))

  ;; dst[0 : n] = the n elements at $p, $s bytes apart (raw bits; $s may be 0).
  (func $gather (param $p i32) (param $s i32) (param $n i32) (param $dst i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
    (loop $l
      (i32.store (local.get $dst) (i32.load (local.get $p)))
      (local.set $p (i32.add (local.get $p) (local.get $s)))
      (br_if $l (i32.lt_u (local.tee $dst (i32.add (local.get $dst) (i32.const 4))) (local.get $end)))))

  ;; The n elements at $p, $s bytes apart = src[0 : n].
  (func $scatter (param $src i32) (param $p i32) (param $s i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (loop $l
      (i32.store (local.get $p) (i32.load (local.get $src)))
      (local.set $p (i32.add (local.get $p) (local.get $s)))
      (br_if $l (i32.lt_u (local.tee $src (i32.add (local.get $src) (i32.const 4))) (local.get $end)))))

  ;; dst[0 : 256] = the value at $p
  (func $fill (param $dst i32) (param $p i32)
    (local $v v128) (local $end i32)
    (local.set $v (v128.load32_splat (local.get $p)))
    (local.set $end (i32.add (local.get $dst) (i32.const 1024)))
    (loop $l
      (v128.store (local.get $dst) (local.get $v))
      (br_if $l (i32.lt_u (local.tee $dst (i32.add (local.get $dst) (i32.const 16))) (local.get $end)))))

  ;; Where a block of operand X is read from: in place ($s = 4), the splat-filled scratch ($s = 0),
  ;; or its scratch after gathering $n elements.
  (func $source (param $p i32) (param $s i32) (param $n i32) (param $scr i32) (result i32)
    (if (result i32) (i32.eq (local.get $s) (i32.const 4))
      (then (local.get $p))
      (else
        (if (i32.ne (local.get $s) (i32.const 0))
          (then (call $gather (local.get $p) (local.get $s) (local.get $n) (local.get $scr))))
        (local.get $scr))))

  ;; $len elements along the innermost dim, views at $po, $pa, $pb, $pc with inner byte strides
  ;; $so, $sa, $sb, $sc; $nargs operands are used; scratch regions out, a, b, c of 1 KiB at $scr.
  (func $segment (param $op i32) (param $nargs i32) (param $len i32) (param $scr i32)
                 (param $po i32) (param $so i32) (param $pa i32) (param $sa i32)
                 (param $pb i32) (param $sb i32) (param $pc i32) (param $sc i32)
    (local $k i32) (local $main i32) (local $blk i32) (local $t i32)
    (local $xa i32) (local $xb i32) (local $xc i32) (local $xo i32)
    (local.set $main (i32.and (local.get $len) (i32.const -4)))
    (if (i32.eqz (local.get $sa)) (then (call $fill (i32.add (local.get $scr) (i32.const 1024)) (local.get $pa))))
    (if (i32.ge_u (local.get $nargs) (i32.const 2))
      (then (if (i32.eqz (local.get $sb)) (then (call $fill (i32.add (local.get $scr) (i32.const 2048)) (local.get $pb))))))
    (if (i32.ge_u (local.get $nargs) (i32.const 3))
      (then (if (i32.eqz (local.get $sc)) (then (call $fill (i32.add (local.get $scr) (i32.const 3072)) (local.get $pc))))))
    (block $mainDone
      (loop $blocks
        (br_if $mainDone (i32.ge_u (local.get $k) (local.get $main)))
        (local.set $blk (i32.sub (local.get $main) (local.get $k)))
        (if (i32.gt_u (local.get $blk) (i32.const 256)) (then (local.set $blk (i32.const 256))))
        (local.set $xa (call $source (local.get $pa) (local.get $sa) (local.get $blk) (i32.add (local.get $scr) (i32.const 1024))))
        (local.set $xb (local.get $xa))
        (local.set $xc (local.get $xa))
        (if (i32.ge_u (local.get $nargs) (i32.const 2))
          (then (local.set $xb (call $source (local.get $pb) (local.get $sb) (local.get $blk) (i32.add (local.get $scr) (i32.const 2048))))))
        (if (i32.ge_u (local.get $nargs) (i32.const 3))
          (then (local.set $xc (call $source (local.get $pc) (local.get $sc) (local.get $blk) (i32.add (local.get $scr) (i32.const 3072))))))
        (local.set $xo (select (local.get $po) (local.get $scr) (i32.eq (local.get $so) (i32.const 4))))
        (call $kernel (local.get $op) (local.get $xo) (local.get $xa) (local.get $xb) (local.get $xc) (local.get $blk))
        (if (i32.ne (local.get $so) (i32.const 4))
          (then (call $scatter (local.get $scr) (local.get $po) (local.get $so) (local.get $blk))))
        (local.set $pa (i32.add (local.get $pa) (i32.mul (local.get $blk) (local.get $sa))))
        (local.set $pb (i32.add (local.get $pb) (i32.mul (local.get $blk) (local.get $sb))))
        (local.set $pc (i32.add (local.get $pc) (i32.mul (local.get $blk) (local.get $sc))))
        (local.set $po (i32.add (local.get $po) (i32.mul (local.get $blk) (local.get $so))))
        (local.set $k (i32.add (local.get $k) (local.get $blk)))
        (br $blocks)))
    ;; the last 1-3 elements: every operand through scratch, one vector, only $t lanes stored
    (local.set $t (i32.sub (local.get $len) (local.get $main)))
    (if (local.get $t)
      (then
        (call $gather (local.get $pa) (local.get $sa) (local.get $t) (i32.add (local.get $scr) (i32.const 1024)))
        (if (i32.ge_u (local.get $nargs) (i32.const 2))
          (then (call $gather (local.get $pb) (local.get $sb) (local.get $t) (i32.add (local.get $scr) (i32.const 2048)))))
        (if (i32.ge_u (local.get $nargs) (i32.const 3))
          (then (call $gather (local.get $pc) (local.get $sc) (local.get $t) (i32.add (local.get $scr) (i32.const 3072)))))
        (call $kernel (local.get $op) (local.get $scr)
          (i32.add (local.get $scr) (i32.const 1024))
          (i32.add (local.get $scr) (i32.const 2048))
          (i32.add (local.get $scr) (i32.const 3072))
          (i32.const 4))
        (call $scatter (local.get $scr) (local.get $po) (local.get $so) (local.get $t)))))

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

  ;; Whether every view the op uses is contiguous along the innermost dim and rows are whole
  ;; vectors, so runs of whole rows can go straight to $kernel.
  (func $rowsDirect (param $desc i32) (param $nargs i32) (result i32)
    (i32.and
      (i32.and
        (i32.eqz (i32.and (i32.load offset=@d3 (local.get $desc)) (i32.const 3)))
        (i32.and
          (i32.eq (i32.load offset=@out.4 (local.get $desc)) (i32.const 4))
          (i32.eq (i32.load offset=@a.4 (local.get $desc)) (i32.const 4))))
      (i32.and
        (i32.or (i32.lt_u (local.get $nargs) (i32.const 2)) (i32.eq (i32.load offset=@b.4 (local.get $desc)) (i32.const 4)))
        (i32.or (i32.lt_u (local.get $nargs) (i32.const 3)) (i32.eq (i32.load offset=@c.4 (local.get $desc)) (i32.const 4))))))

  ;; Elements [$e, $end) in row-major order, walked innermost-dim segment by segment (or, on the
  ;; direct path, a run of whole rows at a time).
  (func $range (param $desc i32) (param $e i32) (param $end i32) (param $scr i32)
    (local $op i32) (local $nargs i32) (local $d1 i32) (local $d2 i32) (local $d3 i32) (local $t i32)
    (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32) (local $len i32)
    (local $direct i32) (local $rows i32) (local $r i32)
    (local $po i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local.set $op (i32.load offset=@op (local.get $desc)))
    ;; copy reads a; where reads a, b, c; the binary ops a and b
    (local.set $nargs
      (select (i32.const 1)
        (select (i32.const 3) (i32.const 2) (i32.ge_u (local.get $op) (i32.const 12)))
        (i32.eq (local.get $op) (i32.const 14))))
    (local.set $direct (call $rowsDirect (local.get $desc) (local.get $nargs)))
    (local.set $d1 (i32.load offset=@d1 (local.get $desc)))
    (local.set $d2 (i32.load offset=@d2 (local.get $desc)))
    (local.set $d3 (i32.load offset=@d3 (local.get $desc)))
    ;; e = ((i0*d1 + i1)*d2 + i2)*d3 + i3
    (local.set $i3 (i32.rem_u (local.get $e) (local.get $d3)))
    (local.set $t (i32.div_u (local.get $e) (local.get $d3)))
    (local.set $i2 (i32.rem_u (local.get $t) (local.get $d2)))
    (local.set $t (i32.div_u (local.get $t) (local.get $d2)))
    (local.set $i1 (i32.rem_u (local.get $t) (local.get $d1)))
    (local.set $i0 (i32.div_u (local.get $t) (local.get $d1)))
    (block $done
      (loop $segments
        (br_if $done (i32.ge_u (local.get $e) (local.get $end)))
        (local.set $po (call $address (i32.add (local.get $desc) (i32.const @out))
          (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3)))
        (local.set $pa (call $address (i32.add (local.get $desc) (i32.const @a))
          (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3)))
        (local.set $pb (call $address (i32.add (local.get $desc) (i32.const @b))
          (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3)))
        (local.set $pc (call $address (i32.add (local.get $desc) (i32.const @c))
          (local.get $i0) (local.get $i1) (local.get $i2) (local.get $i3)))
        ;; whole rows left in this (i0, i1) plane and in the range
        (local.set $rows (i32.sub (local.get $d2) (local.get $i2)))
        (if (i32.gt_u (local.get $rows) (i32.div_u (i32.sub (local.get $end) (local.get $e)) (local.get $d3)))
          (then (local.set $rows (i32.div_u (i32.sub (local.get $end) (local.get $e)) (local.get $d3)))))
        (if (i32.and (i32.and (local.get $direct) (i32.eqz (local.get $i3))) (i32.ne (local.get $rows) (i32.const 0)))
          (then
            ;; rows r = 0..rows-1 of the plane, each one $kernel call, pointers stepped by s2
            (local.set $r (i32.const 0))
            (loop $rowLoop
              (call $kernel (local.get $op) (local.get $po) (local.get $pa) (local.get $pb) (local.get $pc) (local.get $d3))
              (local.set $po (i32.add (local.get $po) (i32.load offset=@out.3 (local.get $desc))))
              (local.set $pa (i32.add (local.get $pa) (i32.load offset=@a.3 (local.get $desc))))
              (local.set $pb (i32.add (local.get $pb) (i32.load offset=@b.3 (local.get $desc))))
              (local.set $pc (i32.add (local.get $pc) (i32.load offset=@c.3 (local.get $desc))))
              (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows))))
            (local.set $len (i32.mul (local.get $rows) (local.get $d3)))
            (local.set $i2 (i32.add (local.get $i2) (local.get $rows))))
          (else
            (local.set $len (i32.sub (local.get $d3) (local.get $i3)))
            (if (i32.gt_u (local.get $len) (i32.sub (local.get $end) (local.get $e)))
              (then (local.set $len (i32.sub (local.get $end) (local.get $e)))))
            (call $segment (local.get $op) (local.get $nargs) (local.get $len) (local.get $scr)
              (local.get $po) (i32.load offset=@out.4 (local.get $desc))
              (local.get $pa) (i32.load offset=@a.4 (local.get $desc))
              (local.get $pb) (i32.load offset=@b.4 (local.get $desc))
              (local.get $pc) (i32.load offset=@c.4 (local.get $desc)))
            ;; advance (i2, i3) by len, which ends the row or the range
            (local.set $i3 (i32.add (local.get $i3) (local.get $len)))
            (if (i32.eq (local.get $i3) (local.get $d3))
              (then
                (local.set $i3 (i32.const 0))
                (local.set $i2 (i32.add (local.get $i2) (i32.const 1)))))))
        (local.set $e (i32.add (local.get $e) (local.get $len)))
        ;; carry i2 into i1, i0
        (if (i32.eq (local.get $i2) (local.get $d2))
          (then
            (local.set $i2 (i32.const 0))
            (local.set $i1 (i32.add (local.get $i1) (i32.const 1)))
            (if (i32.eq (local.get $i1) (local.get $d1))
              (then
                (local.set $i1 (i32.const 0))
                (local.set $i0 (i32.add (local.get $i0) (i32.const 1)))))))
        (br $segments))))

  ;; Entry point: thread $tid takes chunks of elements from the shared counter until none are left.
  (func (export "elementwise") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $n i32) (local $chunk i32) (local $e i32) (local $end i32) (local $scr i32)
    (local.set $n (i32.load offset=@n (local.get $desc)))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (local.set $scr (i32.add (i32.load offset=@scratch (local.get $desc)) (i32.shl (local.get $tid) (i32.const 12))))
    (block $done
      (loop $chunks
        (local.set $e (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $end (i32.add (local.get $e) (local.get $chunk)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (call $range (local.get $desc) (local.get $e) (local.get $end) (local.get $scr))
        (br $chunks))))
)
