# The figure of docs/bench-checks.md from docs/bench-checks.dat (ms of CPU per 1,000 HTTP checks,
# one row per case, one column per run; "?" where a checker cannot run the case):
#   gnuplot -e "data='docs/bench-checks.dat'; out='docs/bench-checks.png'" bench/plot_check_bench.gp
if (!exists("data")) data = "docs/bench-checks.dat"
if (!exists("out")) out = "docs/bench-checks.png"
set terminal pngcairo size 900,460 font "sans,10" noenhanced
set output out
set title "CPU per 1,000 HTTP checks, 10,000 real servers on loopback checked every second (2 runs, side by side)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 1.0 border -1
set boxwidth 0.9
set datafile missing "?"
set ylabel "ms of CPU (user + system) per 1,000 checks"
set yrange [0:100]
set grid ytics
set key outside right top
set xrange [-0.5:1.5]
# The goal: 10,000 checks a second under half a core = under 50 ms per 1,000 checks.
set arrow from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb "#333333"
set label "goal: < 50% of a core at 10,000/s" at graph 0.62, first 53 tc rgb "#333333" front
plot data using 2:xtic(1) title "quorate run 1" lc rgb "#9400d3", \
     "" using 3 title "quorate run 2" lc rgb "#d29cf0", \
     "" using 4 title "keepalived 2.2.7 run 1" lc rgb "#e69f00", \
     "" using 5 title "keepalived 2.2.7 run 2" lc rgb "#f7dc99"
