;; vmgc-ephemerons.scm -- weak-key tables whose values refer to their own
;; keys: an ephemeron does not let the value keep the key (Boehm's
;; disappearing links would, so this runs on vmgc builds only).
(define (show . xs) (for-each display xs) (newline))
;; A thread's current allocation page is kept whole by a collection (its
;; garbage floats to the next one): allocate past it before collecting.
(define (settle)
  (let loop ((i 0)) (if (< i 5000) (begin (cons i i) (loop (+ i 1)))))
  (gc)
  (let loop ((i 0)) (if (< i 5000) (begin (cons i i) (loop (+ i 1)))))
  (gc))
(define t (make-weak-hash-table))
(define kept '())
(do ((i 0 (+ i 1))) ((= i 2000))
  (let ((k (vector i)))
    (hash-table-set! t k (list 'value-of k))   ; the value points back at its key
    (if (= 0 (modulo i 4)) (set! kept (cons k kept)))))
(settle)
(define n (hash-table-count t))
(show "kept keys stay: " (>= n 500) ", cycles through values do not keep the rest: " (< n 600))
(show "values of kept keys: "
      (let loop ((l kept))
        (cond ((null? l) 'all-intact)
              ((eq? (cadr (hash-table-ref/default t (car l) '(#f #f))) (car l)) (loop (cdr l)))
              (else 'damaged))))
;; chains: each value is the key of the next entry; all of a chain is kept
;; while its head is.  (That a chain goes once its head is dropped is checked
;; in tests/test_weak.c: here, with the C stack scanned conservatively, the
;; dropped chains stayed in some runs, doc/design/scheme.md.)
(define t2 (make-weak-hash-table))
(define (build-chain head n)
  (let loop ((i 0) (prev head))
    (if (< i n)
        (let ((k (list i)))
          (hash-table-set! t2 prev k)
          (loop (+ i 1) k)))))
(define heads (make-vector 50 #f))
(do ((c 0 (+ c 1))) ((= c 50)) (vector-set! heads c (list 'head c)))
(vector-for-each (lambda (h) (build-chain h 20)) heads)
(settle)
(show "chains from live keys survive: " (hash-table-count t2))
