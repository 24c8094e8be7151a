;; nboyer: term rewriting with a table of lemmas, after Boyer's theorem
;; prover benchmark (a smaller rule set, written for this project): terms
;; are rewritten to normal form by rules looked up on their operator, and
;; every rewrite allocates a new term.
(define rules (make-eq-hash-table))

(define (add-rule! lhs rhs)
  (hash-table-update!/default rules (car lhs) (lambda (l) (cons (cons lhs rhs) l)) '()))

(for-each (lambda (r) (add-rule! (car r) (cadr r)))
  '(((plus (plus x y) z) (plus x (plus y z)))
    ((times x (plus y z)) (plus (times x y) (times x z)))
    ((times (times x y) z) (times x (times y z)))
    ((difference x x) (zero))
    ((equal (plus x y) (plus x z)) (equal y z))
    ((reverse (append x y)) (append (reverse y) (reverse x)))
    ((append (append x y) z) (append x (append y z)))
    ((length (append x y)) (plus (length x) (length y)))
    ((if (if a b c) d e) (if a (if b d e) (if c d e)))
    ((and p q) (if p (if q (t) (f)) (f)))
    ((or p q) (if p (t) (if q (t) (f))))
    ((not p) (if p (f) (t)))
    ((implies p q) (if p (if q (t) (f)) (t)))))

(define (match pat term env)
  ;; an extended env (an alist), or #f
  (cond ((symbol? pat)
         (let ((b (assq pat env)))
           (cond ((not b) (cons (cons pat term) env))
                 ((equal? (cdr b) term) env)
                 (else #f))))
        ((not (pair? term)) #f)
        ((not (eq? (car pat) (car term))) #f)
        (else
         (let loop ((ps (cdr pat)) (ts (cdr term)) (env env))
           (cond ((not env) #f)
                 ((null? ps) (if (null? ts) env #f))
                 ((null? ts) #f)
                 (else (loop (cdr ps) (cdr ts) (match (car ps) (car ts) env))))))))

(define (substitute pat env)
  (cond ((symbol? pat) (let ((b (assq pat env))) (if b (cdr b) pat)))
        (else (cons (car pat) (map (lambda (p) (substitute p env)) (cdr pat))))))

(define (rewrite term)
  (if (not (pair? term))
      term
      (rewrite-with (cons (car term) (map rewrite (cdr term)))
                    (hash-table-ref/default rules (car term) '()))))

(define (rewrite-with term lemmas)
  (cond ((null? lemmas) term)
        ((match (caar lemmas) term '()) => (lambda (env) (rewrite (substitute (cdar lemmas) env))))
        (else (rewrite-with term (cdr lemmas)))))

(define (term-size t) (if (pair? t) (fold-left + 1 (map term-size (cdr t))) 1))

(define (make-term n)
  ;; a formula whose normal form is large
  (if (= n 0)
      '(implies (and a b) (or (plus (plus a b) c) (times (plus a b) (plus c d))))
      (list 'and (make-term (- n 1)) (list 'not (make-term (- n 1))))))

(define (run n)
  ;; n rewrites of a formula of depth 1 (depth 2 would take minutes: the
  ;; if-normalization rules grow its normal form exponentially)
  (let loop ((i 0) (size 0))
    (if (< i n)
        (loop (+ i 1) (term-size (rewrite (make-term 1))))
        (begin (display "normal form size: ") (display size) (newline)))))
