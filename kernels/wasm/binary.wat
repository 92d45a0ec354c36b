;; binary.wat: float32 elementwise add, sub, mul, div, SIMD128.
;;
;; The output is contiguous, n elements seen as rows of length L. Each operand X is addressed as
;;   X[r, l] = load(X + r*xRow + l*4*xVec)   (xRow in bytes; xVec 1 = contiguous row, 0 = one
;; value per row), which covers same-shape operands, a broadcast bias row (xRow = 0, xVec = 1),
;; a broadcast scalar (xRow = 0, xVec = 0) and a per-row value (xVec = 0). Single float32
;; operations, so results equal a float64 reference rounded to float32, bit for bit.
;; Threads take chunks of elements from a shared counter; the results do not depend on the split.
;;
;; Descriptor (i32 at byte offsets): 0 op (0 add, 1 sub, 2 mul, 3 div), 4 n, 8 L,
;;   12 a, 16 aRow, 20 aVec, 24 b, 28 bRow, 32 bVec, 36 out, 40 elements per chunk (a multiple
;;   of 4), 44 chunk counter (0 at the start)
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func $apply4 (param $op i32) (param $a v128) (param $b v128) (result v128)
    (if (result v128) (i32.eqz (local.get $op))
      (then (f32x4.add (local.get $a) (local.get $b)))
      (else
        (if (result v128) (i32.eq (local.get $op) (i32.const 1))
          (then (f32x4.sub (local.get $a) (local.get $b)))
          (else
            (if (result v128) (i32.eq (local.get $op) (i32.const 2))
              (then (f32x4.mul (local.get $a) (local.get $b)))
              (else (f32x4.div (local.get $a) (local.get $b)))))))))

  ;; out[0 : len] = a op b along one row segment.
  (func $segment (param $op i32) (param $a i32) (param $aVec i32) (param $b i32) (param $bVec i32)
                 (param $out i32) (param $len i32)
    (local $i i32) (local $vecEnd i32) (local $va v128) (local $vb v128)
    (local $aStep i32) (local $bStep i32) (local $sa v128) (local $sb v128)
    (local.set $vecEnd (i32.and (local.get $len) (i32.const -4)))
    (local.set $aStep (i32.shl (local.get $aVec) (i32.const 4)))
    (local.set $bStep (i32.shl (local.get $bVec) (i32.const 4)))
    ;; broadcast operands: the one value, splatted once
    (local.set $sa (v128.load32_splat (local.get $a)))
    (local.set $sb (v128.load32_splat (local.get $b)))
    (block $vecDone
      (loop $vecLoop
        (br_if $vecDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
        (local.set $va
          (if (result v128) (local.get $aVec) (then (v128.load (local.get $a))) (else (local.get $sa))))
        (local.set $vb
          (if (result v128) (local.get $bVec) (then (v128.load (local.get $b))) (else (local.get $sb))))
        (v128.store (local.get $out) (call $apply4 (local.get $op) (local.get $va) (local.get $vb)))
        (local.set $a (i32.add (local.get $a) (local.get $aStep)))
        (local.set $b (i32.add (local.get $b) (local.get $bStep)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vecLoop)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $len)))
        (f32.store (local.get $out)
          (f32x4.extract_lane 0
            (call $apply4 (local.get $op)
              (v128.load32_splat (local.get $a))
              (v128.load32_splat (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.shl (local.get $aVec) (i32.const 2))))
        (local.set $b (i32.add (local.get $b) (i32.shl (local.get $bVec) (i32.const 2))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Elements [$e, $end) of the call at $desc, walked row segment by row segment.
  (func $range (param $desc i32) (param $e i32) (param $end i32)
    (local $L i32) (local $r i32) (local $l i32) (local $len i32) (local $aVec i32) (local $bVec i32)
    (local.set $L (i32.load offset=8 (local.get $desc)))
    (local.set $aVec (i32.load offset=20 (local.get $desc)))
    (local.set $bVec (i32.load offset=32 (local.get $desc)))
    (block $done
      (loop $segments
        (br_if $done (i32.ge_u (local.get $e) (local.get $end)))
        (local.set $r (i32.div_u (local.get $e) (local.get $L)))
        (local.set $l (i32.sub (local.get $e) (i32.mul (local.get $r) (local.get $L))))
        (local.set $len (i32.sub (local.get $L) (local.get $l)))
        (if (i32.gt_u (local.get $len) (i32.sub (local.get $end) (local.get $e)))
          (then (local.set $len (i32.sub (local.get $end) (local.get $e)))))
        (call $segment
          (i32.load offset=0 (local.get $desc))
          (i32.add (i32.load offset=12 (local.get $desc))
            (i32.add (i32.mul (local.get $r) (i32.load offset=16 (local.get $desc)))
              (i32.shl (i32.mul (local.get $l) (local.get $aVec)) (i32.const 2))))
          (local.get $aVec)
          (i32.add (i32.load offset=24 (local.get $desc))
            (i32.add (i32.mul (local.get $r) (i32.load offset=28 (local.get $desc)))
              (i32.shl (i32.mul (local.get $l) (local.get $bVec)) (i32.const 2))))
          (local.get $bVec)
          (i32.add (i32.load offset=36 (local.get $desc)) (i32.shl (local.get $e) (i32.const 2)))
          (local.get $len))
        (local.set $e (i32.add (local.get $e) (local.get $len)))
        (br $segments))))

  ;; Entry point: thread $tid takes chunks of elements from the shared counter until none are left.
  (func (export "binary") (param $desc i32) (param $tid i32) (param $nt i32)
    (local $n i32) (local $chunk i32) (local $e i32) (local $end i32)
    (local.set $n (i32.load offset=4 (local.get $desc)))
    (local.set $chunk (i32.load offset=40 (local.get $desc)))
    (block $done
      (loop $chunks
        (local.set $e (i32.mul (local.get $chunk)
          (i32.atomic.rmw.add offset=44 (local.get $desc) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $end (i32.add (local.get $e) (local.get $chunk)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (call $range (local.get $desc) (local.get $e) (local.get $end))
        (br $chunks))))
)
