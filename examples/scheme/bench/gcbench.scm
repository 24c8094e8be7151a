;; gcbench: Boehm's GCBench (Ellis, Kovac, Boehm) in Scheme: build trees top
;; down and bottom up while a long-lived tree and array stay live.
;; (run N): N is the largest tree depth (the original uses 18 with arrays
;; of 500000).
(define-record-type node (make-node left right i j) node?
  (left node-left set-node-left!) (right node-right set-node-right!)
  (i node-i) (j node-j))

(define (make-empty) (make-node #f #f 0 0))

(define (tree-size d) (- (expt 2 (+ d 1)) 1))
(define (iterations d max-depth) (* 2 (quotient (tree-size max-depth) (tree-size d))))

(define (populate! d n)
  (if (> d 0)
      (let ((l (make-empty)) (r (make-empty)))
        (set-node-left! n l)
        (set-node-right! n r)
        (populate! (- d 1) l)
        (populate! (- d 1) r))))

(define (make-tree d)
  (if (<= d 0)
      (make-empty)
      (make-node (make-tree (- d 1)) (make-tree (- d 1)) 0 0)))

(define (time-construction d max-depth)
  (let ((n (iterations d max-depth)))
    (do ((i 0 (+ i 1))) ((= i n))
      (populate! d (make-empty)))
    (do ((i 0 (+ i 1))) ((= i n))
      (make-tree d))
    (display "  ") (display n) (display " trees of depth ") (display d) (newline)))

(define (run max-depth)
  (let ((stretch (make-tree (+ max-depth 1))))
    (display "stretched a tree of depth ") (display (+ max-depth 1)) (newline))
  (let ((long-lived (make-empty))
        (array (make-vector (* 2 (expt 2 max-depth)) 0.0)))
    (populate! max-depth long-lived)
    (do ((i 0 (+ i 1))) ((= i (quotient (vector-length array) 2)))
      (vector-set! array i (/ 1.0 (+ i 1))))
    (do ((d 4 (+ d 2))) ((> d max-depth))
      (time-construction d max-depth))
    (if (or (not (node? long-lived)) (not (= (vector-ref array 1000) (/ 1.0 1001))))
        (error "gcbench: the long-lived data was damaged"))
    (display "long-lived data intact") (newline)))
