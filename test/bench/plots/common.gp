# Shared look of the report's charts, loaded by the others after they set W and H (the
# size in pixels): small, plain SVG.  With -e "png=1" a PNG instead (to preview them).
if (!exists("W")) W = 860
if (!exists("H")) H = 400
if (exists("png")) {
	set terminal pngcairo size W,H font "sans,10" background "#ffffff"
} else {
	set terminal svg size W,H font "sans,11" background "#ffffff"
}
set output out
set termoption noenhanced
set datafile separator "\t"
set datafile missing "NaN"
set border 3
set tics nomirror
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key top left noautotitle
OURS = "#2166ac"
REF  = "#d6604d"
FLR  = "#999999"
