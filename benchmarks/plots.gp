# plots.gp -- the suite's plots, run by suite.sh in a results directory
# (reads plot/*, written by summarize.sh).  gnuplot 5.
labels = system("tr '\\n' ' ' < plot/labels")
systems = system("tr '\\n' ' ' < plot/systems")
nlabels = words(labels)
nsys = words(systems)
cols = nlabels > 4 ? 4 : nlabels
rows = (nlabels + cols - 1) / cols
set terminal pngcairo size 400 * cols, 320 * rows + 40 font ",9"
set datafile missing "?"
set key top left font ",8" samplen 2

# Pause distribution: every pause of every run, sorted (x: fraction of
# pauses, y: length).  Systems without pauses (malloc) are not drawn.
set output "pauses.png"
set multiplot layout rows, cols title "Pause time distribution (all pauses of all runs; log scale)"
set logscale y
set xlabel "fraction of pauses"
set ylabel "pause (us)"
set xrange [0:1]
do for [i = 1:nlabels] {
    l = word(labels, i)
    paused = system("tr '\\n' ' ' < plot/paused." . l)
    set title "".l  # (a bare l reads as a keyword: the panels had no names)
    if (words(paused) > 0) {
        plot for [s in paused] "plot/pauses." . l . "." . s . ".dat" using 1:2 with lines lw 2 title s
    } else {
        unset logscale y
        plot 2 notitle lc "white"
        set logscale y
    }
}
unset multiplot
unset logscale y
unset xrange

# Minimum mutator utilization against window length (median over runs).
set output "mmu.png"
set multiplot layout rows, cols title "Minimum mutator utilization (median over runs)"
set logscale x
set xlabel "window (ms)"
set ylabel "MMU"
set yrange [0:1.05]
set key bottom right
do for [i = 1:nlabels] {
    l = word(labels, i)
    set title "".l  # (a bare l reads as a keyword: the panels had no names)
    plot for [s in systems] "plot/mmu." . l . "." . s . ".dat" using 1:2 with linespoints lw 2 pt 7 ps 0.5 title s
}
unset multiplot
unset logscale x
unset yrange

# Time and footprint per workload, relative to the best system of each.
set terminal pngcairo size 1200, 480 font ",9"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set key top left
set xlabel ""
set yrange [0:*]
set grid ytics
set output "time.png"
set title "Wall time relative to the fastest system of each workload (lower is better)"
set ylabel "x fastest"
plot for [k = 2:nsys + 1] "plot/time.dat" using k:xtic(1) title columnhead(k)
set output "memory.png"
set title "Peak footprint relative to the smallest of each workload (lower is better)"
set ylabel "x smallest"
plot for [k = 2:nsys + 1] "plot/memory.dat" using k:xtic(1) title columnhead(k)
