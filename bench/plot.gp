# bench/plot.gp — the benchmark's figure: no-op throughput and one-job round trip of taskmq and
# its peers, from the data file bench/run.sh writes (one row per system: label, jobs/s, p50 µs;
# "-" where a system has no such figure). Run by bench/run.sh:
#   gnuplot -e "data='rows.dat'; out='docs/bench.png'" bench/plot.gp
if (!exists("data")) data = 'rows.dat'
if (!exists("out")) out = 'docs/bench.png'
set terminal pngcairo size 1200,1000 font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "-"
stats data using 0 nooutput
set xrange [-0.6:STATS_records - 0.4] # both panels: one column per system
set multiplot layout 2,1 title "taskmq and its peers on one 2-core machine, loopback (medians; higher throughput and lower latency are better)"
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -35 left noenhanced
set logscale y
set format y "10^{%L}"
set lmargin 12
set bmargin 11
set ylabel "no-op jobs/s (log scale)"
plot data using 0:($2):xtic(1) with boxes lc rgb "#3a7dc9" notitle, \
     data using 0:($2):(sprintf("%.0f", $2)) with labels offset 0,0.7 font ",8" notitle
set ylabel "one job in flight, p50 round trip µs (log scale)"
set format y "%g"
plot data using 0:($3):xtic(1) with boxes lc rgb "#d9822b" notitle, \
     data using 0:($3):(sprintf("%.0f", $3)) with labels offset 0,0.7 font ",8" notitle
unset multiplot
