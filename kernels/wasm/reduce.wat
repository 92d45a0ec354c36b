;; reduce.wat: float32 sum and max over any axes of a strided tensor, keeping dims, SIMD128.
;;
;; What it computes, in the host's decomposition (index.ts merges adjacent dims, so most views
;; need far fewer than the dims allowed here):
;;   out[o] = reduce over (r1, r0) of x[base(o) + r1*rs1 + r0*rs0],   r1 < R1, r0 < R0
;;   base(o) = i0*ks0 + i1*ks1 + i2*ks2 with o = (i0*kd1 + i1)*kd2 + i2 (kept dims, row-major)
;; All strides in bytes; out is contiguous.
;;
;; Exactly the reference's arithmetic: each output is reduced on its own, in row-major order of
;; the reduced dims. sum accumulates in float64 from 0 and rounds once at the end; max starts at
;; -Infinity, takes x when x > acc or x is NaN (first maximum wins, NaN sticks). So results equal
;; RefBackend's bit for bit and never depend on the thread count. Speed comes from reducing
;; several outputs at once (independent chains), not from reordering one output's terms:
;;   mode 1 (kept inner dim contiguous, e.g. column sums of [N, H] over N): up to 1024 adjacent
;;          outputs per pass, sweeping x row by row into float64 accumulators in scratch (sum),
;;          or 4 per pass in registers (max);
;;   mode 0 (anything else, e.g. row sums over a contiguous last axis): 4 outputs interleaved.
;; A single output with a long reduction (a total sum) is one float64 chain, ~1 element/cycle.
;;
;; Threads take chunks of outputs from a shared counter (a reduction is never split).
;;
;; Descriptor fields (i32): op (0 sum, 1 max), outN, mode, x, out (byte addresses), kd1, kd2, ks0,
;;   ks1, ks2, R1, R0, rs1, rs0, chunk (outputs per chunk), next (chunk counter, 0 at the start),
;;   scratch (byte address; thread t uses 8 KiB at scratch + t*8192)
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor reduce op:i32 outN:i32 mode:i32 x:i32 out:i32 kd1:i32 kd2:i32 ks0:i32 ks1:i32 ks2:i32
;; @descriptor+ R1:i32 R0:i32 rs1:i32 rs0:i32 chunk:i32 next:i32 scratch:i32
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Two float64 pairs rounded to float32 and joined: (lo0, lo1, hi0, hi1).
  (func $demote4 (param $lo v128) (param $hi v128) (result v128)
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (local.get $lo))
      (f32x4.demote_f64x2_zero (local.get $hi))))

  ;; sum of $n adjacent outputs (a multiple of 4, at most 1024) whose x values are contiguous
  ;; (mode 1): rows are swept in order, each adding its $n values to float64 accumulators in the
  ;; thread's scratch ($acc), so x is read row by row rather than column by column.
  (func $sumCols (param $p i32) (param $dst i32) (param $n i32) (param $acc i32)
                 (param $R1 i32) (param $R0 i32) (param $rs1 i32) (param $rs0 i32)
    (local $q i32) (local $i i32) (local $j i32) (local $c i32) (local $a i32) (local $bytes i32) (local $v v128)
    (local.set $bytes (i32.shl (local.get $n) (i32.const 2)))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $bytes) (i32.const 1)))
    (block $outerDone
      (loop $outer
        (br_if $outerDone (i32.ge_u (local.get $i) (local.get $R1)))
        (local.set $q (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $rs1))))
        (local.set $j (i32.const 0))
        (block $innerDone
          (loop $inner
            (br_if $innerDone (i32.ge_u (local.get $j) (local.get $R0)))
            ;; acc[0 : n] += x row (q)
            (local.set $c (i32.const 0))
            (local.set $a (local.get $acc))
            (loop $cols
              (local.set $v (v128.load (i32.add (local.get $q) (local.get $c))))
              (v128.store offset=0 (local.get $a)
                (f64x2.add (v128.load offset=0 (local.get $a)) (f64x2.promote_low_f32x4 (local.get $v))))
              (v128.store offset=16 (local.get $a)
                (f64x2.add (v128.load offset=16 (local.get $a))
                  (f64x2.promote_low_f32x4
                    (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))
              (local.set $a (i32.add (local.get $a) (i32.const 32)))
              (br_if $cols (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 16))) (local.get $bytes))))
            (local.set $q (i32.add (local.get $q) (local.get $rs0)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.set $c (i32.const 0))
    (loop $store
      (v128.store (i32.add (local.get $dst) (local.get $c))
        (call $demote4 (v128.load offset=0 (local.get $acc)) (v128.load offset=16 (local.get $acc))))
      (local.set $acc (i32.add (local.get $acc) (i32.const 32)))
      (br_if $store (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 16))) (local.get $bytes)))))

  ;; sum of 4 outputs whose bases are $step bytes apart (mode 0), four independent chains
  (func $sum4 (param $p i32) (param $step i32) (param $dst i32)
              (param $R1 i32) (param $R0 i32) (param $rs1 i32) (param $rs0 i32)
    (local $a0 f64) (local $a1 f64) (local $a2 f64) (local $a3 f64)
    (local $q i32) (local $i i32) (local $j i32) (local $s2 i32) (local $s3 i32)
    (local.set $s2 (i32.shl (local.get $step) (i32.const 1)))
    (local.set $s3 (i32.add (local.get $s2) (local.get $step)))
    (block $outerDone
      (loop $outer
        (br_if $outerDone (i32.ge_u (local.get $i) (local.get $R1)))
        (local.set $q (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $rs1))))
        (local.set $j (i32.const 0))
        (block $innerDone
          (loop $inner
            (br_if $innerDone (i32.ge_u (local.get $j) (local.get $R0)))
            (local.set $a0 (f64.add (local.get $a0) (f64.promote_f32 (f32.load (local.get $q)))))
            (local.set $a1 (f64.add (local.get $a1)
              (f64.promote_f32 (f32.load (i32.add (local.get $q) (local.get $step))))))
            (local.set $a2 (f64.add (local.get $a2)
              (f64.promote_f32 (f32.load (i32.add (local.get $q) (local.get $s2))))))
            (local.set $a3 (f64.add (local.get $a3)
              (f64.promote_f32 (f32.load (i32.add (local.get $q) (local.get $s3))))))
            (local.set $q (i32.add (local.get $q) (local.get $rs0)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (f32.store offset=0 (local.get $dst) (f32.demote_f64 (local.get $a0)))
    (f32.store offset=4 (local.get $dst) (f32.demote_f64 (local.get $a1)))
    (f32.store offset=8 (local.get $dst) (f32.demote_f64 (local.get $a2)))
    (f32.store offset=12 (local.get $dst) (f32.demote_f64 (local.get $a3))))

  ;; sum of one output
  (func $sum1 (param $p i32) (param $dst i32) (param $R1 i32) (param $R0 i32) (param $rs1 i32) (param $rs0 i32)
    (local $acc f64) (local $q i32) (local $i i32) (local $j i32)
    (block $outerDone
      (loop $outer
        (br_if $outerDone (i32.ge_u (local.get $i) (local.get $R1)))
        (local.set $q (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $rs1))))
        (local.set $j (i32.const 0))
        (block $innerDone
          (loop $inner
            (br_if $innerDone (i32.ge_u (local.get $j) (local.get $R0)))
            (local.set $acc (f64.add (local.get $acc) (f64.promote_f32 (f32.load (local.get $q)))))
            (local.set $q (i32.add (local.get $q) (local.get $rs0)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (f32.store (local.get $dst) (f32.demote_f64 (local.get $acc))))

  ;; max of 4 adjacent outputs whose x values are contiguous (mode 1)
  (func $maxCols4 (param $p i32) (param $dst i32) (param $R1 i32) (param $R0 i32) (param $rs1 i32) (param $rs0 i32)
    (local $acc v128) (local $v v128) (local $q i32) (local $i i32) (local $j i32)
    (local.set $acc (v128.const f32x4 -inf -inf -inf -inf))
    (block $outerDone
      (loop $outer
        (br_if $outerDone (i32.ge_u (local.get $i) (local.get $R1)))
        (local.set $q (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $rs1))))
        (local.set $j (i32.const 0))
        (block $innerDone
          (loop $inner
            (br_if $innerDone (i32.ge_u (local.get $j) (local.get $R0)))
            (local.set $v (v128.load (local.get $q)))
            ;; acc = (v > acc or v is NaN) ? v : acc, per lane
            (local.set $acc (v128.bitselect (local.get $v) (local.get $acc)
              (v128.or (f32x4.gt (local.get $v) (local.get $acc)) (f32x4.ne (local.get $v) (local.get $v)))))
            (local.set $q (i32.add (local.get $q) (local.get $rs0)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (v128.store (local.get $dst) (local.get $acc)))

  ;; max of one output
  (func $max1 (param $p i32) (param $dst i32) (param $R1 i32) (param $R0 i32) (param $rs1 i32) (param $rs0 i32)
    (local $acc f32) (local $v f32) (local $q i32) (local $i i32) (local $j i32)
    (local.set $acc (f32.const -inf))
    (block $outerDone
      (loop $outer
        (br_if $outerDone (i32.ge_u (local.get $i) (local.get $R1)))
        (local.set $q (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $rs1))))
        (local.set $j (i32.const 0))
        (block $innerDone
          (loop $inner
            (br_if $innerDone (i32.ge_u (local.get $j) (local.get $R0)))
            (local.set $v (f32.load (local.get $q)))
            (local.set $acc (select (local.get $v) (local.get $acc)
              (i32.or (f32.gt (local.get $v) (local.get $acc)) (f32.ne (local.get $v) (local.get $v)))))
            (local.set $q (i32.add (local.get $q) (local.get $rs0)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (f32.store (local.get $dst) (local.get $acc)))

  ;; $len consecutive outputs starting at $dst, along the innermost kept dim (bases $step bytes
  ;; apart); $acc is the thread's scratch.
  (func $run (param $desc i32) (param $p i32) (param $dst i32) (param $len i32) (param $acc i32)
    (local $op i32) (local $mode i32) (local $step i32) (local $k i32) (local $n i32)
    (local $R1 i32) (local $R0 i32) (local $rs1 i32) (local $rs0 i32)
    (local.set $op (i32.load offset=@op (local.get $desc)))
    (local.set $mode (i32.load offset=@mode (local.get $desc)))
    (local.set $step (i32.load offset=@ks2 (local.get $desc)))
    (local.set $R1 (i32.load offset=@R1 (local.get $desc)))
    (local.set $R0 (i32.load offset=@R0 (local.get $desc)))
    (local.set $rs1 (i32.load offset=@rs1 (local.get $desc)))
    (local.set $rs0 (i32.load offset=@rs0 (local.get $desc)))
    (if (i32.eqz (local.get $op))
      (then
        (if (local.get $mode)
          (then
            (block $doneCols
              (loop $byCols
                (local.set $n (i32.and (i32.sub (local.get $len) (local.get $k)) (i32.const -4)))
                (br_if $doneCols (i32.eqz (local.get $n)))
                (if (i32.gt_u (local.get $n) (i32.const 1024)) (then (local.set $n (i32.const 1024))))
                (call $sumCols (local.get $p) (local.get $dst) (local.get $n) (local.get $acc)
                  (local.get $R1) (local.get $R0) (local.get $rs1) (local.get $rs0))
                (local.set $p (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
                (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $n) (i32.const 2))))
                (local.set $k (i32.add (local.get $k) (local.get $n)))
                (br $byCols))))
          (else
            (block $done4
              (loop $by4
                (br_if $done4 (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $len)))
                (call $sum4 (local.get $p) (local.get $step) (local.get $dst)
                  (local.get $R1) (local.get $R0) (local.get $rs1) (local.get $rs0))
                (local.set $p (i32.add (local.get $p) (i32.shl (local.get $step) (i32.const 2))))
                (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $by4)))))
        (block $done1
          (loop $by1
            (br_if $done1 (i32.ge_u (local.get $k) (local.get $len)))
            (call $sum1 (local.get $p) (local.get $dst)
              (local.get $R1) (local.get $R0) (local.get $rs1) (local.get $rs0))
            (local.set $p (i32.add (local.get $p) (local.get $step)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $by1))))
      (else
        (if (local.get $mode)
          (then
            (block $done4
              (loop $by4
                (br_if $done4 (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $len)))
                (call $maxCols4 (local.get $p) (local.get $dst)
                  (local.get $R1) (local.get $R0) (local.get $rs1) (local.get $rs0))
                (local.set $p (i32.add (local.get $p) (i32.const 16)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $by4)))))
        (block $done1
          (loop $by1
            (br_if $done1 (i32.ge_u (local.get $k) (local.get $len)))
            (call $max1 (local.get $p) (local.get $dst)
              (local.get $R1) (local.get $R0) (local.get $rs1) (local.get $rs0))
            (local.set $p (i32.add (local.get $p) (local.get $step)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $by1))))))

  ;; Entry point: thread $tid takes chunks of outputs from the shared counter until none are left;
  ;; each chunk is cut into runs along the innermost kept dim.
  (func (export "reduce") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $outN i32) (local $chunk i32) (local $kd1 i32) (local $kd2 i32)
    (local $o i32) (local $oEnd i32) (local $i2 i32) (local $t i32) (local $len i32) (local $p i32) (local $acc i32)
    (local.set $acc (i32.add (i32.load offset=@scratch (local.get $desc)) (i32.shl (local.get $tid) (i32.const 13))))
    (local.set $outN (i32.load offset=@outN (local.get $desc)))
    (local.set $kd1 (i32.load offset=@kd1 (local.get $desc)))
    (local.set $kd2 (i32.load offset=@kd2 (local.get $desc)))
    (local.set $chunk (i32.load offset=@chunk (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $o (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $o) (local.get $outN)))
        (local.set $oEnd (i32.add (local.get $o) (local.get $chunk)))
        (if (i32.gt_u (local.get $oEnd) (local.get $outN)) (then (local.set $oEnd (local.get $outN))))
        (loop $runs
          ;; o = (i0*kd1 + i1)*kd2 + i2
          (local.set $i2 (i32.rem_u (local.get $o) (local.get $kd2)))
          (local.set $t (i32.div_u (local.get $o) (local.get $kd2)))
          (local.set $len (i32.sub (local.get $kd2) (local.get $i2)))
          (if (i32.gt_u (local.get $len) (i32.sub (local.get $oEnd) (local.get $o)))
            (then (local.set $len (i32.sub (local.get $oEnd) (local.get $o)))))
          (local.set $p (i32.add (i32.load offset=@x (local.get $desc))
            (i32.add
              (i32.add
                (i32.mul (i32.div_u (local.get $t) (local.get $kd1)) (i32.load offset=@ks0 (local.get $desc)))
                (i32.mul (i32.rem_u (local.get $t) (local.get $kd1)) (i32.load offset=@ks1 (local.get $desc))))
              (i32.mul (local.get $i2) (i32.load offset=@ks2 (local.get $desc))))))
          (call $run (local.get $desc) (local.get $p)
            (i32.add (i32.load offset=@out (local.get $desc)) (i32.shl (local.get $o) (i32.const 2)))
            (local.get $len) (local.get $acc))
          (br_if $runs (i32.lt_u (local.tee $o (i32.add (local.get $o) (local.get $len))) (local.get $oEnd))))
        (br $chunks))))
)
