# Peak resident set of one ADD, cnic / reference.
#	gnuplot -e "data='chart-rss.dat'; out='rss.svg'; plots='test/bench/plots'" rss.gp
load plots."/common.gp"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set yrange [0:*]
set ylabel "peak RSS of ADD, MB"
set xtics rotate by -40 left scale 0 font ",10"
set key outside top center horizontal
set bmargin 8
plot data using 2:xtic(1) title "cnic" lc rgb OURS, \
     "" using 3 title "reference" lc rgb REF
