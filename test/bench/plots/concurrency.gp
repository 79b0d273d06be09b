# K parallel ADDs (and DELs) on one network: total wall time; columns: K, ours ADD, ref ADD,
# ours DEL, ref DEL (s).
#	gnuplot -e "data='chart-concurrency.dat'; out='concurrency.svg'; plots='test/bench/plots'" concurrency.gp
load plots."/common.gp"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set logscale y
set yrange [0.01:*]
set format y "%g"
set xlabel "containers attached (then detached) at once"
set ylabel "total wall time, s (log scale)"
set key outside top center horizontal
plot data using 2:xtic(1) title "cnic ADD" lc rgb OURS, \
     "" using 3 title "reference ADD" lc rgb REF, \
     "" using 4 title "cnic DEL" lc rgb "#92c5de", \
     "" using 5 title "reference DEL" lc rgb "#f4a582"
