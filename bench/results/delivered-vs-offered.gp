set terminal pngcairo size 900,560 font "DejaVu Sans,10"
set output "bench/results/delivered-vs-offered.png"
set grid
set key left top
set title "Delivered vs offered relay rate"
set xlabel "offered rate (messages/s)"
set ylabel "delivered rate (messages/s)"
set logscale x
set logscale y
plot "bench/results/sweep-server.dat" using 1:2 with linespoints lc rgb "#1f77b4" pt 7 title "signaling-server", "bench/results/sweep-redis.dat" using 1:2 with linespoints lc rgb "#9467bd" pt 7 title "signaling-server + Redis", "bench/results/sweep-cluster.dat" using 1:2 with linespoints lc rgb "#ff7f0e" pt 7 title "2 nodes + Redis", "bench/results/sweep-floor.dat" using 1:2 with linespoints lc rgb "#2ca02c" pt 7 title "floor relay", "bench/results/sweep-peerjs.dat" using 1:2 with linespoints lc rgb "#d62728" pt 7 title "peerjs-server", x with lines dt 3 lc rgb "grey" title "offered"
