;; matmul.wat: batched float32 matrix multiply, C_p = A_p · B_p, WebAssembly SIMD128 (no FMA).
;;
;; What it computes: for every batch p, C_p[M, N] = A_p[M, K] · B_p[K, N] in float32. A and B are
;; read through arbitrary element strides (row-major, transposed or any other pattern needs no
;; copy); C is row-major with row stride ldc and contiguous columns. It is not a general GEMM:
;; no alpha/beta, no float64, and K >= 1 (the caller fills C with 0 when K = 0).
;;
;; Blocking (BLIS style):
;; - K is cut into blocks of KC = 256. For each block, up to mc rows of A are packed into 4-row
;;   micro-panels, panel[k*4 + r] = A[i+r, k], and up to nc columns of B into 8-column
;;   micro-panels, panel[k*8 + c] = B[k, j+c]. Rows and columns past the edge are packed as 0.
;; - The 4x8 micro-kernel (its own module, imported: matmul-micro.wat with 8 f32x4.mul and 8
;;   f32x4.add per k, or matmul-micro-fma.wat with 8 fused multiply-adds where relaxed SIMD is
;;   available) holds its tile of C in eight f32x4 registers; per k it does two B loads and four
;;   broadcasts of A. (4x8 is the largest tile V8 11.3 keeps in the 15 usable xmm registers
;;   without spilling; 4x16 and 6x8 spill, and unrolling k also makes it spill.)
;; - Edge tiles are computed into a scratch tile and merged. So every element of C is computed
;;   by the same operations in the same order whatever the tiling: each KC block's sum starts at 0
;;   and runs in k order, then is added to C. Results depend on KC (fixed) and the micro-kernel
;;   variant (fused or not), and on nothing else: not on mc, nc, nor on the split across threads.
;;
;; Threading: the work is a list of units (batch p, column block of nc, row block of mc), row
;; block fastest. Threads take the next unit from a shared counter (i32.atomic.rmw.add), so a
;; thread that the OS delays does not hold the others up. B[:, column block] is packed once for
;; all of K and reused while a thread's units keep the same (p, n).
;;
;; Descriptor fields (all i32):
;;   M N K batch
;;   sam sak          element strides of A: between rows, between columns
;;   sbk sbn          element strides of B: between rows, between columns
;;   ldc              element stride between rows of C
;;   aTable bTable cTable   byte addresses of i32 tables [batch]: byte address of X_p[0, 0]
;;   mc nc            block sizes (multiples of 4 and 8)
;;   scratch scratchStride   per-thread scratch, thread t at scratch + t*scratchStride:
;;        packed A (mc*KC floats), packed B (ceil(K/KC)*KC*roundup(nc, 8) floats), a 4x8 tile.
;;   next             the unit counter, 0 when the call starts
;;
;; The descriptor by name (the host writes it with src/tensor/backends/cpu/descriptors.ts; the
;; code reads `@field`, replaced by its byte offset when the file is assembled):
;; @descriptor matmul M:i32 N:i32 K:i32 batch:i32 sam:i32 sak:i32 sbk:i32 sbn:i32 ldc:i32 aTable:i32
;; @descriptor+ bTable:i32 cTable:i32 mc:i32 nc:i32 scratch:i32 scratchStride:i32 next:i32
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; The 4x8 micro-kernel (matmul-micro.wat or matmul-micro-fma.wat, chosen by the host):
  ;; (pa, pb, kc, c, ldcb, first), see there.
  (import "env" "matmul_micro" (func $kernel (param i32 i32 i32 i32 i32 i32)))

  ;; Transpose the 4x4 block whose rows are $r0..$r3 and store its columns at $d, $d + $stride,
  ;; $d + 2 $stride, $d + 3 $stride: column c = (r0[c], r1[c], r2[c], r3[c]).
  (func $transposeStore (param $r0 v128) (param $r1 v128) (param $r2 v128) (param $r3 v128)
                        (param $d i32) (param $stride i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    ;; t0 = a0 b0 a1 b1, t1 = c0 d0 c1 d1, t2 = a2 b2 a3 b3, t3 = c2 d2 c3 d3
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
    (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
    (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
    (v128.store (local.get $d)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
    (local.set $d (i32.add (local.get $d) (local.get $stride)))
    (v128.store (local.get $d)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
    (local.set $d (i32.add (local.get $d) (local.get $stride)))
    (v128.store (local.get $d)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
    (local.set $d (i32.add (local.get $d) (local.get $stride)))
    (v128.store (local.get $d)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3))))

  ;; Pack `lanes` lines of `kc` floats, any strides, into an interleaved panel: line l (first
  ;; float at $src + l*$lineBytes, floats $step bytes apart) goes to $dst + l*4 + k*$width*4 for
  ;; k < kc; lines lanes..width-1 are zero. The general case of both packings below.
  (func $packLines (param $src i32) (param $lineBytes i32) (param $step i32) (param $lanes i32)
                   (param $width i32) (param $kc i32) (param $dst i32)
    (local $l i32) (local $s i32) (local $d i32) (local $k i32) (local $pitch i32)
    (local.set $pitch (i32.shl (local.get $width) (i32.const 2)))
    (loop $lines
      (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $l) (i32.const 2))))
      (local.set $k (local.get $kc))
      (if (i32.lt_u (local.get $l) (local.get $lanes))
        (then
          (local.set $s (i32.add (local.get $src) (i32.mul (local.get $l) (local.get $lineBytes))))
          (loop $copy
            (f32.store (local.get $d) (f32.load (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $step)))
            (local.set $d (i32.add (local.get $d) (local.get $pitch)))
            (br_if $copy (local.tee $k (i32.sub (local.get $k) (i32.const 1))))))
        (else
          (loop $zero
            (f32.store (local.get $d) (f32.const 0))
            (local.set $d (i32.add (local.get $d) (local.get $pitch)))
            (br_if $zero (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
      (br_if $lines (i32.lt_u (local.tee $l (i32.add (local.get $l) (i32.const 1))) (local.get $width)))))

  ;; Pack `rows` x `kc` of A (byte address $src of A[i0, k0]; element strides $sam between rows,
  ;; $sak between columns) into 4-row micro-panels at $dst: panel p holds (k, r) at
  ;; $dst + (p*kc*4 + k*4 + r)*4. Rows past `rows` up to the next multiple of 4 are zero.
  ;; Full panels of a transposed A (sam = 1) are vector copies; of a row-major A (sak = 1), 4x4
  ;; transposes; anything else goes through $packLines.
  (func $packA (param $src i32) (param $sam i32) (param $sak i32) (param $rows i32) (param $kc i32) (param $dst i32)
    (local $i i32) (local $k i32) (local $s i32) (local $d i32) (local $panel i32) (local $full i32)
    (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $rowBytes i32) (local $step i32)
    (local.set $step (i32.shl (local.get $sak) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $sam) (i32.const 2)))
    (local.set $panel (local.get $dst))
    (loop $panels
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes))))
      (local.set $d (local.get $panel))
      (local.set $full (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
      (if (i32.and (local.get $full) (i32.eq (local.get $sam) (i32.const 1)))
        (then
          ;; the panel's 4 rows at one k are 4 consecutive floats
          (local.set $k (local.get $kc))
          (loop $copy
            (v128.store (local.get $d) (v128.load (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $step)))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (br_if $copy (local.tee $k (i32.sub (local.get $k) (i32.const 1))))))
        (else
          (if (i32.and (local.get $full) (i32.eq (local.get $sak) (i32.const 1)))
            (then
              ;; four contiguous rows: transpose 4x4 blocks, then the last kc % 4 columns one by one
              (local.set $s1 (i32.add (local.get $s) (local.get $rowBytes)))
              (local.set $s2 (i32.add (local.get $s1) (local.get $rowBytes)))
              (local.set $s3 (i32.add (local.get $s2) (local.get $rowBytes)))
              (local.set $k (i32.const 0))
              (block $blocksDone
                (loop $blocks
                  (br_if $blocksDone (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                  (call $transposeStore
                    (v128.load (i32.add (local.get $s) (i32.shl (local.get $k) (i32.const 2))))
                    (v128.load (i32.add (local.get $s1) (i32.shl (local.get $k) (i32.const 2))))
                    (v128.load (i32.add (local.get $s2) (i32.shl (local.get $k) (i32.const 2))))
                    (v128.load (i32.add (local.get $s3) (i32.shl (local.get $k) (i32.const 2))))
                    (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 4)))
                    (i32.const 16))
                  (local.set $k (i32.add (local.get $k) (i32.const 4)))
                  (br $blocks)))
              (if (i32.lt_u (local.get $k) (local.get $kc))
                (then
                  (call $packLines
                    (i32.add (local.get $s) (i32.shl (local.get $k) (i32.const 2)))
                    (local.get $rowBytes) (i32.const 4) (i32.const 4) (i32.const 4)
                    (i32.sub (local.get $kc) (local.get $k))
                    (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 4)))))))
            (else
              (call $packLines (local.get $s) (local.get $rowBytes) (local.get $step)
                (i32.sub (local.get $rows) (local.get $i)) (i32.const 4) (local.get $kc) (local.get $d))))))
      (local.set $panel (i32.add (local.get $panel) (i32.shl (local.get $kc) (i32.const 4))))
      (br_if $panels (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $rows)))))

  ;; Pack `kc` x `cols` of B (byte address $src of B[k0, j0]; element strides $sbk between rows,
  ;; $sbn between columns) into 8-column micro-panels at $dst: panel q holds (k, c) at
  ;; $dst + (q*kc*8 + k*8 + c)*4. Columns past `cols` up to the next multiple of 8 are zero.
  ;; Full panels of a row-major B (sbn = 1) are vector copies; of a transposed B (sbk = 1), two
  ;; 4x4 transposes per 4 rows; anything else goes through $packLines.
  (func $packB (param $src i32) (param $sbk i32) (param $sbn i32) (param $cols i32) (param $kc i32) (param $dst i32)
    (local $j i32) (local $k i32) (local $s i32) (local $d i32) (local $panel i32) (local $full i32)
    (local $colBytes i32) (local $step i32) (local $c i32) (local $at i32)
    (local.set $step (i32.shl (local.get $sbk) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $sbn) (i32.const 2)))
    (local.set $panel (local.get $dst))
    (loop $panels
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $colBytes))))
      (local.set $d (local.get $panel))
      (local.set $full (i32.le_u (i32.add (local.get $j) (i32.const 8)) (local.get $cols)))
      (if (i32.and (local.get $full) (i32.eq (local.get $sbn) (i32.const 1)))
        (then
          ;; 8 contiguous columns: two vector copies per row of B
          (local.set $k (local.get $kc))
          (loop $rowCopy
            (v128.store (local.get $d) (v128.load (local.get $s)))
            (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $step)))
            (local.set $d (i32.add (local.get $d) (i32.const 32)))
            (br_if $rowCopy (local.tee $k (i32.sub (local.get $k) (i32.const 1))))))
        (else
          (if (i32.and (local.get $full) (i32.eq (local.get $sbk) (i32.const 1)))
            (then
              ;; 8 columns each contiguous along k: per 4 rows, transpose columns 0-3 into the
              ;; first half of the panel rows and columns 4-7 into the second half
              (local.set $k (i32.const 0))
              (block $blocksDone
                (loop $blocks
                  (br_if $blocksDone (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                  (local.set $c (i32.const 0))
                  (loop $halves
                    ;; $at: B[k0 + k, j + c] (column j + c, row k)
                    (local.set $at (i32.add (local.get $s)
                      (i32.add (i32.mul (local.get $c) (local.get $colBytes)) (i32.shl (local.get $k) (i32.const 2)))))
                    (call $transposeStore
                      (v128.load (local.get $at))
                      (v128.load (i32.add (local.get $at) (local.get $colBytes)))
                      (v128.load (i32.add (local.get $at) (i32.shl (local.get $colBytes) (i32.const 1))))
                      (v128.load (i32.add (local.get $at) (i32.mul (local.get $colBytes) (i32.const 3))))
                      (i32.add (local.get $d) (i32.add (i32.shl (local.get $k) (i32.const 5)) (i32.shl (local.get $c) (i32.const 2))))
                      (i32.const 32))
                    (br_if $halves (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 4))) (i32.const 8))))
                  (local.set $k (i32.add (local.get $k) (i32.const 4)))
                  (br $blocks)))
              (if (i32.lt_u (local.get $k) (local.get $kc))
                (then
                  (call $packLines
                    (i32.add (local.get $s) (i32.shl (local.get $k) (i32.const 2)))
                    (local.get $colBytes) (i32.const 4) (i32.const 8) (i32.const 8)
                    (i32.sub (local.get $kc) (local.get $k))
                    (i32.add (local.get $d) (i32.shl (local.get $k) (i32.const 5)))))))
            (else
              (call $packLines (local.get $s) (local.get $colBytes) (local.get $step)
                (i32.sub (local.get $cols) (local.get $j)) (i32.const 8) (local.get $kc) (local.get $d))))))
      (local.set $panel (i32.add (local.get $panel) (i32.shl (local.get $kc) (i32.const 5))))
      (br_if $panels (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $cols)))))

  ;; Pack B[0 : K, j0 : j0 + cols] (byte address $src of B[0, j0]) for every K block:
  ;; block t (k0 = t*KC) starts at $dst + k0*roundup(cols, 8)*4.
  (func $packBAll (param $src i32) (param $sbk i32) (param $sbn i32) (param $cols i32) (param $K i32) (param $dst i32)
    (local $k0 i32) (local $kc i32) (local $padded i32)
    (local.set $padded (i32.and (i32.add (local.get $cols) (i32.const 7)) (i32.const -8)))
    (loop $blocks
      (local.set $kc (i32.sub (local.get $K) (local.get $k0)))
      (if (i32.gt_u (local.get $kc) (i32.const 256)) (then (local.set $kc (i32.const 256))))
      (call $packB
        (i32.add (local.get $src) (i32.shl (i32.mul (local.get $k0) (local.get $sbk)) (i32.const 2)))
        (local.get $sbk) (local.get $sbn) (local.get $cols) (local.get $kc)
        (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $k0) (local.get $padded)) (i32.const 2))))
      (br_if $blocks
        (i32.lt_u (local.tee $k0 (i32.add (local.get $k0) (i32.const 256))) (local.get $K)))))

  ;; Merge the top-left $rows x $cols (>= 1 each) of a 4x8 tile (rows 32 bytes apart) into C:
  ;; C = tile (when $first) or C + tile, the same operation the micro-kernel applies.
  (func $merge (param $tile i32) (param $c i32) (param $ldcb i32) (param $rows i32) (param $cols i32) (param $first i32)
    (local $r i32) (local $j i32) (local $src i32) (local $dst i32) (local $v f32)
    (loop $rowLoop
      (local.set $j (i32.const 0))
      (loop $colLoop
        (local.set $src
          (i32.add (local.get $tile)
            (i32.add (i32.shl (local.get $r) (i32.const 5)) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $dst
          (i32.add (local.get $c)
            (i32.add (i32.mul (local.get $r) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $v (f32.load (local.get $src)))
        (if (i32.eqz (local.get $first))
          (then (local.set $v (f32.add (f32.load (local.get $dst)) (local.get $v)))))
        (f32.store (local.get $dst) (local.get $v))
        (br_if $colLoop (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $cols))))
      (br_if $rowLoop (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))

  ;; One unit: C[i0 : i0 + rows, j0 : j0 + cols] over all of K. $a is the byte address of
  ;; A[i0, 0], $c of C[i0, j0]; $pb holds B[:, j0 : j0 + cols] packed by $packBAll; $pa has room
  ;; for mc x KC packed A; $tile for a 4x8 tile.
  (func $unit (param $desc i32) (param $a i32) (param $c i32) (param $rows i32) (param $cols i32)
              (param $pa i32) (param $pb i32) (param $tile i32)
    (local $K i32) (local $sam i32) (local $sak i32) (local $ldcb i32) (local $padded i32)
    (local $k0 i32) (local $kc i32) (local $first i32) (local $pbBlock i32)
    (local $i i32) (local $j i32) (local $aPanel i32) (local $bPanel i32) (local $cp i32)
    (local $tileRows i32) (local $tileCols i32)
    (local.set $K (i32.load offset=@K (local.get $desc)))
    (local.set $sam (i32.load offset=@sam (local.get $desc)))
    (local.set $sak (i32.load offset=@sak (local.get $desc)))
    (local.set $ldcb (i32.shl (i32.load offset=@ldc (local.get $desc)) (i32.const 2)))
    (local.set $padded (i32.and (i32.add (local.get $cols) (i32.const 7)) (i32.const -8)))
    (local.set $first (i32.const 1))
    (loop $kBlocks
      (local.set $kc (i32.sub (local.get $K) (local.get $k0)))
      (if (i32.gt_u (local.get $kc) (i32.const 256)) (then (local.set $kc (i32.const 256))))
      (call $packA
        (i32.add (local.get $a) (i32.shl (i32.mul (local.get $k0) (local.get $sak)) (i32.const 2)))
        (local.get $sam) (local.get $sak) (local.get $rows) (local.get $kc) (local.get $pa))
      (local.set $pbBlock
        (i32.add (local.get $pb) (i32.shl (i32.mul (local.get $k0) (local.get $padded)) (i32.const 2))))
      (local.set $j (i32.const 0))
      (loop $jLoop
        (local.set $bPanel
          (i32.add (local.get $pbBlock)
            (i32.mul (i32.shr_u (local.get $j) (i32.const 3)) (i32.shl (local.get $kc) (i32.const 5)))))
        (local.set $i (i32.const 0))
        (loop $iLoop
          (local.set $aPanel
            (i32.add (local.get $pa)
              (i32.mul (i32.shr_u (local.get $i) (i32.const 2)) (i32.shl (local.get $kc) (i32.const 4)))))
          (local.set $cp
            (i32.add (local.get $c)
              (i32.add (i32.mul (local.get $i) (local.get $ldcb)) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $tileRows (i32.sub (local.get $rows) (local.get $i)))
          (local.set $tileCols (i32.sub (local.get $cols) (local.get $j)))
          (if (i32.and (i32.ge_u (local.get $tileRows) (i32.const 4)) (i32.ge_u (local.get $tileCols) (i32.const 8)))
            (then
              (call $kernel (local.get $aPanel) (local.get $bPanel) (local.get $kc)
                (local.get $cp) (local.get $ldcb) (local.get $first)))
            (else
              (call $kernel (local.get $aPanel) (local.get $bPanel) (local.get $kc)
                (local.get $tile) (i32.const 32) (i32.const 1))
              (call $merge (local.get $tile) (local.get $cp) (local.get $ldcb)
                (select (local.get $tileRows) (i32.const 4) (i32.lt_u (local.get $tileRows) (i32.const 4)))
                (select (local.get $tileCols) (i32.const 8) (i32.lt_u (local.get $tileCols) (i32.const 8)))
                (local.get $first))))
          (br_if $iLoop (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $rows))))
        (br_if $jLoop (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $cols))))
      (local.set $first (i32.const 0))
      (br_if $kBlocks (i32.lt_u (local.tee $k0 (i32.add (local.get $k0) (i32.const 256))) (local.get $K)))))

  ;; Entry point: thread $tid takes units of the call at $desc until none are left ($nt unused).
  (func (export "matmul") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $M i32) (local $N i32) (local $K i32) (local $mc i32) (local $nc i32)
    (local $mBlocks i32) (local $nBlocks i32) (local $units i32) (local $u i32)
    (local $m i32) (local $pn i32) (local $n i32) (local $p i32) (local $i0 i32) (local $j0 i32)
    (local $rows i32) (local $cols i32) (local $packed i32)
    (local $scratch i32) (local $pa i32) (local $pb i32) (local $tile i32)
    (local $aBase i32) (local $bBase i32) (local $cBase i32)
    (local.set $M (i32.load offset=@M (local.get $desc)))
    (local.set $N (i32.load offset=@N (local.get $desc)))
    (local.set $K (i32.load offset=@K (local.get $desc)))
    (local.set $mc (i32.load offset=@mc (local.get $desc)))
    (local.set $nc (i32.load offset=@nc (local.get $desc)))
    (local.set $mBlocks (i32.div_u (i32.add (local.get $M) (i32.sub (local.get $mc) (i32.const 1))) (local.get $mc)))
    (local.set $nBlocks (i32.div_u (i32.add (local.get $N) (i32.sub (local.get $nc) (i32.const 1))) (local.get $nc)))
    (local.set $units
      (i32.mul (i32.load offset=@batch (local.get $desc)) (i32.mul (local.get $mBlocks) (local.get $nBlocks))))
    ;; this thread's scratch: packed A, then packed B for all K blocks, then the edge tile
    (local.set $scratch
      (i32.add (i32.load offset=@scratch (local.get $desc))
        (i32.mul (local.get $tid) (i32.load offset=@scratchStride (local.get $desc)))))
    (local.set $pa (local.get $scratch))
    (local.set $pb (i32.add (local.get $pa) (i32.shl (local.get $mc) (i32.const 10))))
    (local.set $tile
      (i32.add (local.get $pb)
        (i32.shl
          (i32.mul
            (i32.and (i32.add (local.get $K) (i32.const 255)) (i32.const -256))
            (i32.and (i32.add (local.get $nc) (i32.const 7)) (i32.const -8)))
          (i32.const 2))))
    (local.set $packed (i32.const -1))
    (block $done
      (loop $units
        (local.set $u (i32.atomic.rmw.add offset=@next (local.get $desc) (i32.const 1)))
        (br_if $done (i32.ge_u (local.get $u) (local.get $units)))
        ;; u = (p*nBlocks + n)*mBlocks + m
        (local.set $m (i32.rem_u (local.get $u) (local.get $mBlocks)))
        (local.set $pn (i32.div_u (local.get $u) (local.get $mBlocks)))
        (local.set $n (i32.rem_u (local.get $pn) (local.get $nBlocks)))
        (local.set $p (i32.div_u (local.get $pn) (local.get $nBlocks)))
        (local.set $i0 (i32.mul (local.get $m) (local.get $mc)))
        (local.set $j0 (i32.mul (local.get $n) (local.get $nc)))
        (local.set $rows (i32.sub (local.get $M) (local.get $i0)))
        (if (i32.gt_u (local.get $rows) (local.get $mc)) (then (local.set $rows (local.get $mc))))
        (local.set $cols (i32.sub (local.get $N) (local.get $j0)))
        (if (i32.gt_u (local.get $cols) (local.get $nc)) (then (local.set $cols (local.get $nc))))
        (local.set $aBase
          (i32.load (i32.add (i32.load offset=@aTable (local.get $desc)) (i32.shl (local.get $p) (i32.const 2)))))
        (local.set $bBase
          (i32.load (i32.add (i32.load offset=@bTable (local.get $desc)) (i32.shl (local.get $p) (i32.const 2)))))
        (local.set $cBase
          (i32.load (i32.add (i32.load offset=@cTable (local.get $desc)) (i32.shl (local.get $p) (i32.const 2)))))
        (if (i32.ne (local.get $pn) (local.get $packed))
          (then
            (call $packBAll
              (i32.add (local.get $bBase)
                (i32.shl (i32.mul (local.get $j0) (i32.load offset=@sbn (local.get $desc))) (i32.const 2)))
              (i32.load offset=@sbk (local.get $desc)) (i32.load offset=@sbn (local.get $desc))
              (local.get $cols) (local.get $K) (local.get $pb))
            (local.set $packed (local.get $pn))))
        (call $unit (local.get $desc)
          (i32.add (local.get $aBase)
            (i32.shl (i32.mul (local.get $i0) (i32.load offset=@sam (local.get $desc))) (i32.const 2)))
          (i32.add (local.get $cBase)
            (i32.shl
              (i32.add (i32.mul (local.get $i0) (i32.load offset=@ldc (local.get $desc))) (local.get $j0))
              (i32.const 2)))
          (local.get $rows) (local.get $cols) (local.get $pa) (local.get $pb) (local.get $tile))
        (br $units))))
)
