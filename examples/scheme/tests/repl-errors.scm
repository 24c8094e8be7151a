(define x 10)
x
(car '())
(+ x 1)
(undefined-thing 1 2)
(error "custom failure:" 'a "b" 3)
(vector-ref (vector 1 2) 2)
((lambda (a b) a) 1)
(string-append "a" 5)
(let loop ((i 0)) (if (< i 3) (loop (+ i 1)) 'loop-ok))
(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))
(deep 100000000)
(deep 1000)
"still running"
(read (open-input-string "(unclosed"))
'done
