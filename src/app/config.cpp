#include "app/config.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "common/duration.hpp"
#include "net/client_address.hpp"

namespace sig::app {

namespace {

// A duration option: "500ms", "15s", "2m", "1h" or seconds.
CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                          const std::string& help, const std::string& env) {
  auto* opt = app.add_option_function<std::string>(
      name,
      [&target, name](const std::string& text) {
        const auto d = parse_duration(text);
        if (!d) throw CLI::ValidationError(name, "expected a duration such as 500ms, 15s, 2m or 1h");
        target = *d;
      },
      help + " (default " + std::to_string(target.count()) + "ms)");
  opt->envname(env);
  return opt;
}

}  // namespace

Config parse_config(int argc, char** argv) {
  Config c;
  CLI::App app{"signaling-server: WebRTC signaling for small group sessions (full mesh, 2-6 participants)"};
  app.set_config("--config", "", "Read options from a TOML/INI file");
  app.option_defaults()->always_capture_default();

  app.add_option("--listen", c.listen, "Address to listen on")->envname("SIGNALING_LISTEN");
  app.add_option("--port", c.port, "TCP port; 0 picks a free one")->envname("SIGNALING_PORT");
  app.add_option("--threads", c.threads, "Network threads; 0 = one per core")->envname("SIGNALING_THREADS");

  app.add_option("--jwt-secret", c.jwt_secret, "Shared secret for HS256/HS384/HS512 tokens")
      ->envname("SIGNALING_JWT_SECRET");
  app.add_option("--jwt-public-key", c.jwt_public_key_file,
                 "PEM file with an RSA (RS256) or P-256 (ES256) public key")
      ->envname("SIGNALING_JWT_PUBLIC_KEY")
      ->check(CLI::ExistingFile);
  app.add_option("--jwt-issuer", c.jwt_issuer, "Required iss claim (unchecked when empty)")
      ->envname("SIGNALING_JWT_ISSUER");
  app.add_option("--jwt-audience", c.jwt_audience, "Required aud claim (unchecked when empty)")
      ->envname("SIGNALING_JWT_AUDIENCE");
  app.add_option("--jwt-name-claim", c.jwt_name_claim,
                 "Claim that carries the display name (the user id is sub)")
      ->envname("SIGNALING_JWT_NAME_CLAIM");
  add_duration(app, "--jwt-leeway", c.jwt_leeway, "Clock skew allowed for exp and nbf",
               "SIGNALING_JWT_LEEWAY");

  app.add_option("--admin-key", c.admin_key,
                 "Bearer key of the admin API; without it the API refuses every call")
      ->envname("SIGNALING_ADMIN_KEY");

  add_duration(app, "--heartbeat-interval", c.heartbeat_interval, "Heartbeat interval told to clients",
               "SIGNALING_HEARTBEAT_INTERVAL");
  add_duration(app, "--heartbeat-timeout", c.heartbeat_timeout, "Close a connection silent for this long",
               "SIGNALING_HEARTBEAT_TIMEOUT");
  app.add_option("--max-participants", c.max_participants, "Connected participants per session")
      ->envname("SIGNALING_MAX_PARTICIPANTS")
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-message-size", c.max_message_size, "Largest WebSocket message, bytes")
      ->envname("SIGNALING_MAX_MESSAGE_SIZE")
      ->check(CLI::Range(256, 16 << 20));
  app.add_option("--rate-limit", c.rate_limit, "Messages per second per connection; 0 disables the limit")
      ->envname("SIGNALING_RATE_LIMIT")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate-burst", c.rate_burst, "Burst size of the per-connection rate limit")
      ->envname("SIGNALING_RATE_BURST")
      ->check(CLI::PositiveNumber);
  app.add_option("--write-queue-limit", c.write_queue_limit,
                 "Bytes queued for one connection before it is closed as a slow consumer")
      ->envname("SIGNALING_WRITE_QUEUE_LIMIT")
      ->check(CLI::Range(4096, 1 << 30));
  add_duration(app, "--start-timeout", c.start_timeout,
               "End a session not started this long after its creation", "SIGNALING_START_TIMEOUT");
  add_duration(app, "--empty-timeout", c.empty_timeout, "End a started session that stays empty this long",
               "SIGNALING_EMPTY_TIMEOUT");
  add_duration(app, "--ended-retention", c.ended_retention, "Forget an ended session after this long",
               "SIGNALING_ENDED_RETENTION");

  app.add_option("--http-max-header-bytes", c.http_max_header_bytes,
                 "Largest HTTP request head, chunk extensions and trailer together, bytes (431 beyond)")
      ->envname("SIGNALING_HTTP_MAX_HEADER_BYTES")
      ->check(CLI::Range(1024, 65'000));
  app.add_option("--http-max-body-bytes", c.http_max_body_bytes,
                 "Largest admin API request body, bytes (413 beyond); other routes take no body")
      ->envname("SIGNALING_HTTP_MAX_BODY_BYTES")
      ->check(CLI::Range(1024, 64 << 20));
  add_duration(app, "--http-head-timeout", c.http_head_timeout,
               "Time for a request head to arrive, from its first byte", "SIGNALING_HTTP_HEAD_TIMEOUT");
  add_duration(app, "--http-idle-timeout", c.http_idle_timeout,
               "Close an HTTP connection that sends no request for this long", "SIGNALING_HTTP_IDLE_TIMEOUT");
  app.add_option("--http-max-requests", c.http_max_requests, "Requests per HTTP keep-alive connection")
      ->envname("SIGNALING_HTTP_MAX_REQUESTS")
      ->check(CLI::Range(1, 1'000'000));
  add_duration(app, "--http-max-lifetime", c.http_max_lifetime,
               "No new request on an HTTP keep-alive connection older than this",
               "SIGNALING_HTTP_MAX_LIFETIME");

  app.add_option("--max-connections", c.max_connections,
                 "Open connections at most; 0 = the open-file limit minus max(256, 5 %) of it")
      ->envname("SIGNALING_MAX_CONNECTIONS")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}));
  app.add_option("--max-connections-per-ip", c.max_connections_per_ip,
                 "Open connections per client address (behind --trusted-proxy: the forwarded one)")
      ->envname("SIGNALING_MAX_CONNECTIONS_PER_IP")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  app.add_option(
         "--max-pending-connections", c.max_pending_connections,
         "Connections not yet joined to a session (HTTP, handshake); 0 = a quarter of --max-connections")
      ->envname("SIGNALING_MAX_PENDING_CONNECTIONS")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10'000'000}));
  app.add_option("--trusted-proxy", c.trusted_proxies,
                 "CIDR of a reverse proxy whose X-Forwarded-For / Forwarded names the client (repeatable)")
      ->envname("SIGNALING_TRUSTED_PROXY")
      ->check([](const std::string& v) {
        return sig::net::parse_cidr(v) ? std::string() : "expected an address or CIDR such as 10.0.0.0/8";
      });
  app.add_option("--admin-listen", c.admin_listen,
                 "ADDR:PORT of a second listener for the admin API and /metrics (the public port then "
                 "answers 404 for them)")
      ->envname("SIGNALING_ADMIN_LISTEN");

  app.add_option("--web-root", c.web_root, "Directory of static pages served at / (the demo room)")
      ->envname("SIGNALING_WEB_ROOT")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--dev", c.dev,
               "UNSAFE development mode: a demo session and /dev/token hand out tokens to anyone")
      ->envname("SIGNALING_DEV");
  app.add_option("--node-id", c.node_id, "Prefix of connection ids (random when empty)")
      ->envname("SIGNALING_NODE_ID");

  app.add_option(
         "--redis", c.redis,
         "Shared Redis for several nodes: redis://[[user]:password@]host[:port][/db], or rediss:// for "
         "TLS (see --redis-tls-*); without it the state stays in this process")
      ->envname("SIGNALING_REDIS");
  app.add_option(
         "--redis-tls-ca", c.redis_tls_ca,
         "rediss://: PEM file of the CA certificate(s) that sign Redis's certificate (default: the system "
         "trust store)")
      ->envname("SIGNALING_REDIS_TLS_CA");
  app.add_option("--redis-tls-cert", c.redis_tls_cert,
                 "rediss://: PEM client certificate (chain) for Redis servers that require one (mutual TLS; "
                 "with --redis-tls-key)")
      ->envname("SIGNALING_REDIS_TLS_CERT");
  app.add_option("--redis-tls-key", c.redis_tls_key,
                 "rediss://: PEM private key of --redis-tls-cert, unencrypted")
      ->envname("SIGNALING_REDIS_TLS_KEY");
  app.add_option("--redis-tls-server-name", c.redis_tls_server_name,
                 "rediss://: the name Redis's certificate must match, also sent as SNI (default: the host of "
                 "--redis)")
      ->envname("SIGNALING_REDIS_TLS_SERVER_NAME");
  add_duration(app, "--node-ttl", c.node_ttl,
               "Several nodes: a node whose alive key is older than this is dead and its participants leave",
               "SIGNALING_NODE_TTL");
  add_duration(app, "--cluster-sync", c.cluster_sync,
               "Several nodes: re-read every session from Redis this often (directory entries written by the "
               "platform)",
               "SIGNALING_CLUSTER_SYNC");

  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->envname("SIGNALING_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", c.log_format, "json or text")
      ->envname("SIGNALING_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  }
  if (c.heartbeat_timeout <= c.heartbeat_interval) {
    std::cerr << "--heartbeat-timeout must be longer than --heartbeat-interval\n";
    std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  }
  if (c.node_ttl < std::chrono::milliseconds(300)) {
    std::cerr << "--node-ttl must be at least 300ms\n";
    std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  }
  for (const auto& [name, d] : {std::pair{"--http-head-timeout", c.http_head_timeout},
                                std::pair{"--http-idle-timeout", c.http_idle_timeout},
                                std::pair{"--http-max-lifetime", c.http_max_lifetime}}) {
    if (d < std::chrono::milliseconds(100) || d > std::chrono::hours(24)) {
      std::cerr << name << " must be between 100ms and 24h\n";
      std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
    }
  }
  if (c.jwt_secret.empty() && c.jwt_public_key_file.empty() && !c.dev) {
    std::cerr << "no token key: give --jwt-secret or --jwt-public-key (or --dev for a demo)\n";
    std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  }
  return c;
}

}  // namespace sig::app
