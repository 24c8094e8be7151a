;; binary-trees: allocate and walk complete binary trees (the Benchmarks Game
;; kernel).  (run N) with N the maximum depth.
(define (make-tree d)
  (if (= d 0)
      (cons '() '())
      (cons (make-tree (- d 1)) (make-tree (- d 1)))))

(define (check t)
  (if (null? (car t))
      1
      (+ 1 (check (car t)) (check (cdr t)))))

(define (run n)
  (let* ((max-depth (max 6 n))
         (stretch (+ max-depth 1)))
    (display "stretch tree of depth ") (display stretch)
    (display " check: ") (display (check (make-tree stretch))) (newline)
    (let ((long-lived (make-tree max-depth)))
      (do ((d 4 (+ d 2))) ((> d max-depth))
        (let ((iterations (expt 2 (+ (- max-depth d) 4))))
          (let loop ((i 0) (sum 0))
            (if (< i iterations)
                (loop (+ i 1) (+ sum (check (make-tree d))))
                (begin
                  (display iterations) (display " trees of depth ") (display d)
                  (display " check: ") (display sum) (newline))))))
      (display "long lived tree of depth ") (display max-depth)
      (display " check: ") (display (check long-lived)) (newline))))
