;; deriv: symbolic differentiation of a fixed polynomial, many times over
;; (a classic Gabriel benchmark kernel; each result is garbage at once).
(define (deriv a)
  (cond ((not (pair? a)) (if (eq? a 'x) 1 0))
        ((eq? (car a) '+) (cons '+ (map deriv (cdr a))))
        ((eq? (car a) '-) (cons '- (map deriv (cdr a))))
        ((eq? (car a) '*)
         (list '* a (cons '+ (map (lambda (b) (list '/ (deriv b) b)) (cdr a)))))
        ((eq? (car a) '/)
         (list '- (list '/ (deriv (cadr a)) (caddr a))
               (list '/ (cadr a) (list '* (caddr a) (caddr a) (deriv (caddr a))))))
        (else (error "deriv: unknown operator" (car a)))))

(define expr '(+ (* 3 x x) (* a x x) (* b x) 5))

(define (run n)
  (let loop ((i 0) (last #f))
    (if (< i n)
        (loop (+ i 1) (deriv expr))
        (begin (write last) (newline)))))
