set terminal pngcairo size 900,560 font "DejaVu Sans,10"
set output "bench/results/rss-vs-connections.png"
set grid
set key left top
set title "Server RSS increase vs idle connections (heartbeat every 5000 ms)"
set xlabel "connections"
set ylabel "RSS increase over the idle process (MiB)"
plot "bench/results/rss-server.dat" using 1:2 with linespoints lc rgb "#1f77b4" pt 7 title "signaling-server", "bench/results/rss-redis.dat" using 1:2 with linespoints lc rgb "#9467bd" pt 7 title "signaling-server + Redis", "bench/results/rss-cluster.dat" using 1:2 with linespoints lc rgb "#ff7f0e" pt 7 title "2 nodes + Redis", "bench/results/rss-floor.dat" using 1:2 with linespoints lc rgb "#2ca02c" pt 7 title "floor relay", "bench/results/rss-peerjs.dat" using 1:2 with linespoints lc rgb "#d62728" pt 7 title "peerjs-server"
