;; strings: a string-port workload: write records to a string port, read
;; them back with the reader, and build strings piece by piece.
(define (record i) (list 'item i (number->string (* i 7)) (make-string (modulo i 17) #\x)))

(define (round-trip n)
  (let ((out (open-output-string)))
    (do ((i 0 (+ i 1))) ((= i n))
      (write (record i) out)
      (newline out))
    (let ((in (open-input-string (get-output-string out))))
      (let loop ((x (read in)) (sum 0) (chars 0))
        (if (eof-object? x)
            (list sum chars)
            (loop (read in) (+ sum (cadr x)) (+ chars (string-length (cadddr x)))))))))

(define (run n)
  (let loop ((i 0) (r #f))
    (if (< i 10)
        (loop (+ i 1) (round-trip n))
        (begin (display r) (newline)))))
