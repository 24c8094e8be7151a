;; weak-table: a large weak-key table used as an object-property map: many
;; objects get a property, most of them die, the table must not keep them.
(define props (make-weak-hash-table))

(define (generation n keep)
  ;; n new objects with properties, of which every keep-th stays reachable
  (let loop ((i 0) (kept '()))
    (if (= i n)
        kept
        (let ((obj (vector i (* i i))))
          (hash-table-set! props obj (list 'property i))
          (loop (+ i 1) (if (= 0 (modulo i keep)) (cons obj kept) kept))))))

(define (run n)
  (let loop ((g 0) (live '()))
    (if (< g 20)
        (loop (+ g 1) (append (generation n 10) (if (> (length live) (* n 2)) '() live)))
        (begin
          (gc)
          (let ((count (hash-table-count props)))
            (display "entries: ") (display (<= count (+ (length live) 1000)))
            (newline))))))
