# ckplots.gp -- checkpoint.png from checkpoint.csv (run in the suite's output
# directory): the pauses of a checkpoint, a plain flip and a fork(), and the
# time to a durable image for a checkpoint, a fork() child and dd.
set datafile separator ","
set terminal pngcairo size 1200,480 font ",10"
set output "checkpoint.png"
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -20
set key top left
set logscale y
set grid ytics
set title "Pause (ms, log scale)"
plot "checkpoint.csv" using (column("flip_ms")):xtic(sprintf("%s %s MiB", stringcolumn("backend"), stringcolumn("live_req_mib"))) title "plain flip", \
     "" using (column("ck_pause_ms")) title "checkpoint", \
     "" using (column("fork_pause_ms")) title "fork()"
unset logscale y
set title "Time to a durable image (s)"
plot "checkpoint.csv" using (column("ck_write_s")):xtic(sprintf("%s %s MiB", stringcolumn("backend"), stringcolumn("live_req_mib"))) title "checkpoint", \
     "" using (column("fork_write_s")) title "fork() child writes", \
     "" using (column("live_req_mib") / column("dd_mbs")) title "dd (the disk)"
unset multiplot
