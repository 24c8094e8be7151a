;; mperm: a queue of permutations (after Clinger's MpermNKL): the
;; permutations of 1..n as lists sharing their tails, kept live in a queue
;; while new ones are made and old ones dropped -- a large, slowly changing
;; live set.
(define (permutations n)
  ;; every permutation of (1..n), each a fresh list
  (define (insert-everywhere x l)
    (if (null? l)
        (list (list x))
        (cons (cons x l)
              (map (lambda (rest) (cons (car l) rest)) (insert-everywhere x (cdr l))))))
  (let loop ((k 1) (perms (list '())))
    (if (> k n)
        perms
        (loop (+ k 1)
              (let collect ((ps perms) (acc '()))
                (if (null? ps) acc
                    (collect (cdr ps) (append (insert-everywhere k (car ps)) acc))))))))

(define (sum-lists ls)
  (let loop ((ls ls) (s 0))
    (if (null? ls) s (loop (cdr ls) (+ s (apply + (car ls)))))))

(define (run n)
  ;; a queue holding the last few generations of permutations
  (let ((queue (make-vector 4 '())))
    (do ((round 0 (+ round 1))) ((= round 12))
      (vector-set! queue (modulo round 4) (permutations n)))
    (display "sum of the last generation: ")
    (display (sum-lists (vector-ref queue (modulo 11 4))))
    (newline)))
