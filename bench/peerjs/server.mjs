// Starts peerjs-server (npm package `peer`) for the benchmarks, the way its documentation shows
// (PeerServer from the package), with its console logging of every connection left out and
// its concurrent-connection limit raised so the benchmark can hold thousands of peers.
//
// Usage: node bench/peerjs/server.mjs [--port 0] [--host 127.0.0.1] [--key peerjs]
// Prints {"msg":"listening","port":N,"pid":P} on stdout once it accepts connections.
import { PeerServer } from "peer";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};

const port = Number(opt("port", "0"));
const host = opt("host", "127.0.0.1");
const key = opt("key", "peerjs");

const server = PeerServer(
  {
    port,
    host,
    key,
    path: "/",
    concurrent_limit: 1_000_000,
    alive_timeout: 120_000,
    expire_timeout: 5_000,
  },
  (httpServer) => {
    const addr = httpServer.address();
    process.stdout.write(JSON.stringify({ msg: "listening", port: addr.port, pid: process.pid }) + "\n");
  },
);
server.on("error", (e) => process.stderr.write(`peerjs error: ${e}\n`));
const stop = () => process.exit(0);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
