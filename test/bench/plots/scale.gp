# ADD and DEL of one bridge + portmap attachment against the number of containers already
# attached; columns: attached, ours ADD, ref ADD, floor ADD, ours DEL, ref DEL, floor DEL (ms).
#	gnuplot -e "data='chart-scale.dat'; out='scale.svg'; plots='test/bench/plots'" scale.gp
load plots."/common.gp"
set logscale y
set xlabel "containers already attached to the bridge (each with a port mapping)"
set ylabel "median time of one attachment, ms (log scale)"
set key outside right top vertical
set autoscale xfix
set offsets 30, 30, 0, 0
set format y "%g"
plot data using 1:2 with linespoints lw 2 pt 7 lc rgb OURS title "cnic ADD", \
     "" using 1:5 with linespoints lw 2 pt 6 dt 2 lc rgb OURS title "cnic DEL", \
     "" using 1:3 with linespoints lw 2 pt 7 lc rgb REF title "reference ADD", \
     "" using 1:6 with linespoints lw 2 pt 6 dt 2 lc rgb REF title "reference DEL", \
     "" using 1:4 with linespoints lw 1 pt 7 lc rgb FLR title "floor ADD", \
     "" using 1:7 with linespoints lw 1 pt 6 dt 2 lc rgb FLR title "floor DEL"
