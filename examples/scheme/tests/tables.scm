;; tables.scm -- hash tables across collections: eq? tables keyed by
;; objects that the collector moves, equal? tables, weak-key tables.
(define (show . xs) (for-each display xs) (newline))
(define n 20000)

;; eq?: keys are fresh pairs; collections move them, lookups must not care
(define eq-table (make-eq-hash-table))
(define keys (make-vector n #f))
(do ((i 0 (+ i 1))) ((= i n))
  (let ((k (cons i i)))
    (vector-set! keys i k)
    (hash-table-set! eq-table k i)))
(define (churn rounds) ; garbage, so that collections happen and objects move
  (do ((i 0 (+ i 1))) ((= i rounds))
    (make-vector 100 i)))
(churn 20000)
(gc)
(churn 20000)
(define (all-found? table)
  (let loop ((i 0))
    (cond ((= i n) #t)
          ((eqv? (hash-table-ref/default table (vector-ref keys i) #f) i) (loop (+ i 1)))
          (else (show "lost key " i) #f))))
(show "eq table: " (hash-table-count eq-table) " entries, all found: " (all-found? eq-table))
(show "fresh key absent: " (hash-table-ref/default eq-table (cons 0 0) 'absent))
(hash-table-delete! eq-table (vector-ref keys 0))
(show "after delete: " (hash-table-count eq-table) " " (hash-table-contains? eq-table (vector-ref keys 0)))
(hash-table-update!/default eq-table (vector-ref keys 1) (lambda (v) (* v 100)) 0)
(show "updated: " (hash-table-ref eq-table (vector-ref keys 1) (lambda () 'none)))
(show "symbols and numbers as keys: "
      (let ((t (make-eqv-hash-table)))
        (hash-table-set! t 'a 1) (hash-table-set! t 2.5 'float) (hash-table-set! t 7 'seven)
        (list (hash-table-ref/default t 'a #f) (hash-table-ref/default t 2.5 #f)
              (hash-table-ref/default t 7 #f))))
(show "identity hash stable: "
      (let* ((k (list 'x)) (h (eq-hash k)))
        (churn 20000) (gc)
        (= h (eq-hash k))))

;; equal?: strings and lists as keys
(define eq2 (make-equal-hash-table))
(do ((i 0 (+ i 1))) ((= i 1000))
  (hash-table-set! eq2 (number->string i) i)
  (hash-table-set! eq2 (list i 'x) (* 2 i)))
(gc)
(show "equal table: " (hash-table-count eq2) " "
      (hash-table-ref/default eq2 "999" #f) " " (hash-table-ref/default eq2 (list 500 'x) #f))
(show "sorted keys of a small table: "
      (let ((t (make-equal-hash-table)))
        (for-each (lambda (s) (hash-table-set! t s #t)) '("pear" "apple" "fig"))
        (sort (hash-table-keys t) string<?)))
(show "walk sum: "
      (let ((sum 0))
        (hash-table-walk eq2 (lambda (k v) (if (string? k) (set! sum (+ sum v)))))
        sum))

;; weak keys: entries whose key is otherwise unreachable go away
(define weak (make-weak-hash-table))
(define held '())
(do ((i 0 (+ i 1))) ((= i 10000))
  (let ((k (list i)))
    (if (even? i) (set! held (cons k held)))
    (hash-table-set! weak k (* i i))))
(churn 1000)
(gc)
(gc)
(define remaining (hash-table-count weak))
;; a conservative collector may keep a few dead keys that the stack still names
(show "weak table kept the held keys: " (>= remaining 5000) ", dropped the rest: " (< remaining 5100))
(show "held keys still map: "
      (let loop ((l held))
        (cond ((null? l) #t)
              ((= (hash-table-ref/default weak (car l) -1) (* (caar l) (caar l))) (loop (cdr l)))
              (else #f))))

;; a weak table whose keys keep dying: it grows and unlinks dead entries
;; across collections, and keeps every key that is still held
(define churned (make-weak-hash-table))
(define kept '())
(do ((round 0 (+ round 1))) ((= round 6))
  (do ((i 0 (+ i 1))) ((= i 3000))
    (let ((k (list round i)))
      (if (= 0 (modulo i 100)) (set! kept (cons k kept)))
      (hash-table-set! churned k i)))
  (gc))
(show "churned table maps its kept keys: "
      (let loop ((l kept))
        (cond ((null? l) #t)
              ((= (hash-table-ref/default churned (car l) -1) (cadr (car l))) (loop (cdr l)))
              (else #f)))
      ", holds few dead ones: " (< (hash-table-count churned) 3000))
