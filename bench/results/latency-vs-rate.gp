set terminal pngcairo size 900,560 font "DejaVu Sans,10"
set output "bench/results/latency-vs-rate.png"
set grid
set key left top
set title "Relay latency vs offered rate (open loop, 0.5s warmup + 2s measured + 0.5s drain)"
set xlabel "offered rate (messages/s)"
set ylabel "latency (µs, log scale)"
set logscale y
set logscale x
plot "bench/results/sweep-server.dat" using 1:3 with linespoints lc rgb "#1f77b4" dt 2 pt 6 title "signaling-server p50", "bench/results/sweep-server.dat" using 1:4 with linespoints lc rgb "#1f77b4" pt 7 title "signaling-server p99", "bench/results/sweep-redis.dat" using 1:3 with linespoints lc rgb "#9467bd" dt 2 pt 6 title "signaling-server + Redis p50", "bench/results/sweep-redis.dat" using 1:4 with linespoints lc rgb "#9467bd" pt 7 title "signaling-server + Redis p99", "bench/results/sweep-cluster.dat" using 1:3 with linespoints lc rgb "#ff7f0e" dt 2 pt 6 title "2 nodes + Redis p50", "bench/results/sweep-cluster.dat" using 1:4 with linespoints lc rgb "#ff7f0e" pt 7 title "2 nodes + Redis p99", "bench/results/sweep-floor.dat" using 1:3 with linespoints lc rgb "#2ca02c" dt 2 pt 6 title "floor relay p50", "bench/results/sweep-floor.dat" using 1:4 with linespoints lc rgb "#2ca02c" pt 7 title "floor relay p99", "bench/results/sweep-peerjs.dat" using 1:3 with linespoints lc rgb "#d62728" dt 2 pt 6 title "peerjs-server p50", "bench/results/sweep-peerjs.dat" using 1:4 with linespoints lc rgb "#d62728" pt 7 title "peerjs-server p99"
