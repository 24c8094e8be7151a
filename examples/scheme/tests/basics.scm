;; basics.scm -- the language: every special form and the common primitives.
(define (show . xs) (for-each display xs) (newline))

;; numbers
(show (+ 1 2) " " (- 10 4 3) " " (* 2 3 4) " " (/ 12 4) " " (/ 1 4) " " (- 5))
(show (quotient 17 5) " " (remainder -17 5) " " (modulo -17 5) " " (expt 2 61) " " (expt 2.0 0.5))
(show (exact->inexact 1) " " (max 1 2.0) " " (min 3 1 2) " " (abs -7) " " (sqrt 16) " " (sqrt 2))
(show (* 4611686018427387903 2) " " (number->string 255 16) " " (string->number "1e3") " " (round 2.5) " " (truncate -2.7))
(show (= 1 1.0) " " (< 1 2 3) " " (< 1 3 2) " " (exact (floor 3.7)) " " (gcd 12 18) " " (lcm 4 6))

;; lists
(define l (list 1 2 3 4 5))
(show (length l) " " (reverse l) " " (append l '(6) '() '(7 8)) " " (list-tail l 3) " " (list-ref l 1))
(show (map + l l) " " (map (lambda (x) (* x x)) l) " " (filter odd? l) " " (fold-left + 0 l) " " (fold-right cons '() l))
(show (memq 'c '(a b c d)) " " (member "b" '("a" "b")) " " (assq 'y '((x . 1) (y . 2))) " " (assoc 2.0 '((1 . a) (2 . b))))
(show (cadr l) " " (cddr l) " " (caddr l) " " (last-pair l) " " (list? l) " " (list? '(1 . 2)) " " (sort '(3 1 2) <))
(define p (cons 1 2)) (set-car! p 10) (set-cdr! p '(20))
(show p " " (apply + 1 2 '(3 4)) " " (apply max '(3 9 2)))

;; strings, characters, symbols
(define s (make-string 3 #\a))
(string-set! s 1 #\b)
(show s " " (string-length "hello") " " (string-ref "hello" 1) " " (substring "hello" 1 3) " " (string-append "a" "bc" "def"))
(show (string=? "ab" "ab") " " (string<? "ab" "b") " " (string-upcase "MiXed") " " (list->string (list #\x #\y)) " " (string->list "ok"))
(show (symbol->string 'abc) " " (eq? (string->symbol "abc") 'abc) " " (char->integer #\A) " " (integer->char 97) " " (char-upcase #\z))
(write (list "quote\"d" #\space #\a 'sym 1.5 (vector 1 "two" #\3)))
(newline)
(show (string-search-forward "lo" "hello world" 0) " " (string->number "abc") " " (number->string 3.25))

;; vectors
(define v (make-vector 3 0))
(vector-set! v 0 'x)
(show v " " (vector-length v) " " (vector->list (vector 1 2 3)) " " (list->vector '(a b)) " " (vector-map (lambda (x) (* 2 x)) #(1 2 3)))

;; binding forms
(show (let ((x 1) (y 2)) (+ x y)) " " (let* ((x 1) (y (+ x 1))) (* x y)) " "
      (letrec ((even? (lambda (n) (if (= n 0) #t (odd? (- n 1)))))
               (odd? (lambda (n) (if (= n 0) #f (even? (- n 1))))))
        (even? 100)))
(show (let loop ((i 0) (acc '())) (if (= i 5) (reverse acc) (loop (+ i 1) (cons i acc)))))
(show (do ((i 0 (+ i 1)) (acc '() (cons i acc))) ((= i 4) acc)))
(define (counter)
  (define n 0)
  (define (next) (set! n (+ n 1)) n)
  next)
(define c (counter))
(c) (c)
(show "counter: " (c))
(define (varargs a . rest) (list a rest))
(show (varargs 1) " " (varargs 1 2 3) " " ((lambda args args) 4 5))

;; conditionals
(define (classify x)
  (cond ((< x 0) 'negative)
        ((assv x '((0 . zero) (1 . one))) => cdr)
        (else 'many)))
(show (classify -1) " " (classify 0) " " (classify 1) " " (classify 5))
(define (kind x)
  (case x
    ((1 2 3) 'small)
    ((a b) 'letter)
    (else 'other)))
(show (kind 2) " " (kind 'b) " " (kind "x"))
(show (and 1 2) " " (and) " " (and 1 #f 3) " " (or #f 2) " " (or) " " (when #t 'yes) " " (unless #f 'no))
(show (if #f #f 'else-branch))

;; quasiquote
(define x 5)
(show `(a ,x ,@(list 1 2) (nested ,(+ x 1)) . end))
(show `#(1 ,x))

;; records
(define-record-type point (make-point x y) point? (x point-x set-point-x!) (y point-y))
(define pt (make-point 3 4))
(set-point-x! pt 30)
(show (point? pt) " " (point? 5) " " (point-x pt) " " (point-y pt))

;; proper tail calls: a million iterations in constant C stack
(define (count-down n) (if (= n 0) 'done (count-down (- n 1))))
(show (count-down 1000000))
(define (even-odd n) (cond ((= n 0) 'even) (else (odd-even (- n 1)))))
(define (odd-even n) (cond ((= n 0) 'odd) (else (even-odd (- n 1)))))
(show (even-odd 100001))
;; deep non-tail recursion
(define (sum-to n) (if (= n 0) 0 (+ n (sum-to (- n 1)))))
(show (sum-to 10000))

;; escapes, values, promises
(show (call/cc (lambda (k) (for-each (lambda (x) (if (> x 2) (k x))) '(1 2 3 4)) 'none)))
(show (+ 1 (call-with-current-continuation (lambda (k) (+ 10 (k 1))))))
(call-with-values (lambda () (values 1 2 3)) (lambda (a b c) (show a b c)))
(define pr (delay (begin (display "[forced]") 42)))
(show (force pr) " " (force pr))

;; errors caught by the program
(show (catch-error (lambda () (car '())) (lambda (msg irritants) (list 'caught msg irritants))))
(show (catch-error (lambda () (error "my error" 1 2)) (lambda (msg irritants) (list msg irritants))))
(show (catch-error (lambda () (undefined-variable)) (lambda (msg irritants) msg)))
(show (catch-error (lambda () ((lambda (a) a))) (lambda (msg irritants) msg)))
(show (catch-error (lambda () (vector-ref (vector 1) 5)) (lambda (msg irritants) msg)))

;; string ports
(define out (open-output-string))
(write 'hello out) (display " " out) (write "world" out)
(show (get-output-string out))
(define in (open-input-string "(1 2) foo \"bar\" 3.5"))
(show (read in) (read in) (read in) (read in) (eof-object? (read in)))
(show (with-output-to-string (lambda () (display "captured") (display 42))))
(show (read-line (open-input-string "line one\nline two")))
(show (eval '(* 6 7)))
(define saved-k #f)
(call/cc (lambda (k) (set! saved-k k)))
(show (catch-error (lambda () (saved-k 1)) (lambda (msg irritants) msg)))
