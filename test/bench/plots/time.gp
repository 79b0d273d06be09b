# Per plugin and verb: median wall time of one call, cnic / reference / floor, log scale.
#	gnuplot -e "data='chart-time.dat'; out='time.svg'; plots='test/bench/plots'" time.gp
W = 1000; H = 500
load plots."/common.gp"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set logscale y
set yrange [0.1:*]
set ylabel "median wall time per call, ms (log scale)"
set xtics rotate by -55 left scale 0 font ",10"
set key outside top center horizontal
set bmargin 10
plot data using 2:xtic(1) title "cnic" lc rgb OURS, \
     "" using 3 title "reference" lc rgb REF, \
     "" using 4 title "floor" lc rgb FLR
