# Installed size of each plugin: cnic (static, stripped) / reference.
#	gnuplot -e "data='chart-sizes.dat'; out='sizes.svg'; plots='test/bench/plots'" sizes.gp
W = 860; H = 340
load plots."/common.gp"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 noborder
set boxwidth 0.9
set yrange [0:*]
set ylabel "MB"
set xtics scale 0
set key outside top center horizontal
plot data using 2:xtic(1) title "cnic (static, stripped)" lc rgb OURS, \
     "" using 3 title "reference" lc rgb REF
