#pragma once
// Every option of the server, with its documented default. Flags, environment variables
// (SIGNALING_<NAME>) and an optional config file (--config, TOML/INI) all fill this one struct;
// a flag wins over the environment, which wins over the file. Everything is checked here, at
// start-up: an unknown key, a number out of its range or a bad combination is an error that
// names the option (the configuration fails closed).
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/webhook_options.hpp"

namespace sig::app {

struct Config {
  std::string listen = "0.0.0.0";  // with --dev and no --listen: 127.0.0.1
  unsigned short port = 8080;      // 0: any free port (printed in the "listening" log line)
  unsigned threads = 0;            // 0: one per core

  // HS256/384/512 (--jwt-secret, repeatable, and the content of --jwt-secret-file): each a
  // plain secret (the key without kid) or "kid:secret" (app/keys.hpp, parse_jwt_secret).
  std::vector<std::string> jwt_secrets;
  std::string jwt_public_key_file;  // RS256 or ES256 public key, PEM
  std::string jwt_issuer;           // checked when not empty
  std::string jwt_audience;         // checked when not empty
  std::string jwt_name_claim = "name";
  std::chrono::milliseconds jwt_leeway{30'000};
  bool jwt_es256_require_low_s = false;  // refuse high-S ES256 signatures instead of normalising them
  // Key sets (RFC 7517; docs/security.md, "Key rotation"). The URL is refreshed every
  // jwt_jwks_refresh, or as its Cache-Control max-age says within [refresh_min, 24 h], and on an
  // unknown kid at most once per jwt_jwks_unknown_kid_interval.
  std::string jwt_jwks_file;
  std::string jwt_jwks_url;  // http:// or https://
  std::chrono::milliseconds jwt_jwks_refresh{300'000};
  std::chrono::milliseconds jwt_jwks_refresh_min{30'000};
  std::chrono::milliseconds jwt_jwks_unknown_kid_interval{30'000};
  std::string jwt_jwks_ca;  // https: PEM CA file; empty: the system trust store

  std::string admin_key;  // empty: the admin API answers 401 (--admin-key or --admin-key-file)

  std::chrono::milliseconds heartbeat_interval{15'000};
  std::chrono::milliseconds heartbeat_timeout{30'000};
  // Resume (docs/protocol.md): how long a lost participant keeps its place (0: leaves at once),
  // and what is kept for it meanwhile.
  std::chrono::milliseconds resume_window{10'000};
  std::size_t resume_queue_messages = 64;
  std::size_t resume_queue_bytes = std::size_t{256} * 1024;
  std::size_t max_participants = 6;
  std::size_t max_message_size = 65'536;
  double rate_limit = 50;  // messages per second per connection; 0 disables
  double rate_burst = 200;
  std::size_t write_queue_limit = 1U << 20U;
  std::chrono::milliseconds start_timeout{3'600'000};
  std::chrono::milliseconds empty_timeout{300'000};
  std::chrono::milliseconds ended_retention{3'600'000};

  // The HTTP edge (net::HttpLimits documents why each default).
  std::size_t http_max_header_bytes = 16'384;   // request line, headers, chunk extensions, trailers
  std::size_t http_max_body_bytes = 1U << 20U;  // admin API bodies; other routes take none
  std::chrono::milliseconds http_head_timeout{10'000};
  std::chrono::milliseconds http_idle_timeout{10'000};
  std::size_t http_max_requests = 100;  // per keep-alive connection
  std::chrono::milliseconds http_max_lifetime{60'000};

  // Connection budgets (net::ConnectionLimiter). 0: computed at start-up (see server.cpp).
  std::size_t max_connections = 0;  // 0: RLIMIT_NOFILE soft limit - max(256, 5 %)
  std::size_t max_connections_per_ip = 1000;
  std::size_t max_pending_connections = 0;   // 0: a quarter of max_connections
  std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-For/Forwarded is believed
  std::string admin_listen;                  // ADDR:PORT of a listener for /api/ and /metrics

  // ICE servers handed to the clients in `joined` (docs/deployment.md, coturn).
  std::vector<std::string> stun_uris;              // stun:host[:port]
  std::vector<std::string> turn_uris;              // turn:/turns:host[:port][?transport=udp|tcp]
  std::string turn_secret;                         // coturn's static-auth-secret (or --turn-secret-file)
  std::chrono::milliseconds turn_ttl{14'400'000};  // lifetime of the TURN credentials (4 h)
  std::string ice_transport_policy = "all";        // default of the sessions: all | relay

  std::string web_root;  // empty: no static files
  bool dev = false;      // UNSAFE development mode: demo session and /dev/token
  std::string node_id;   // prefix of connection ids; random when empty

  // Several nodes: the shared Redis (empty: the embedded single-node store).
  // redis[s]://[[user]:password@]host[:port][/db]; the password of --redis-password-file is put in it.
  std::string redis;
  // Or a Redis Cluster (--redis-cluster): its seed nodes, "host:port[,host:port...]" (items may be
  // redis[s]://[:password@]host:port: one scheme and password for all). Parsed into the seeds and
  // a URL that carries the scheme and the password (of --redis-password-file too) for every node.
  std::string redis_cluster;
  std::vector<std::string> redis_cluster_seeds;    // host:port
  std::string redis_cluster_url;                   // redis[s]://[:password@]<first seed>
  std::string redis_tls_ca;                        // rediss://: PEM CA file; empty: the system trust store
  std::string redis_tls_cert;                      // rediss://: client certificate (mutual TLS), PEM
  std::string redis_tls_key;                       // rediss://: its private key, PEM, unencrypted
  std::string redis_tls_server_name;               // rediss://: name checked, and SNI; empty: URL host
  std::chrono::milliseconds node_ttl{10'000};      // TTL of this node's alive key
  std::chrono::milliseconds cluster_sync{60'000};  // re-read of hosted sessions (a safety net)

  // SIGTERM: the graceful drain (app/drain.hpp). Every WebSocket is told to move (close 1012)
  // within the period; the process exits when the last is gone, or at the timeout.
  std::chrono::milliseconds drain_period{10'000};
  std::chrono::milliseconds drain_timeout{30'000};

  // Signed webhooks (docs/webhooks.md; app/webhook_options.hpp).
  WebhookConfig webhook;

  std::string log_level = "info";
  std::string log_format = "json";  // json | text
};

// Parses argv (and the environment, and --config). Prints help or an error and exits the
// process on --help or bad input (start-up only).
Config parse_config(int argc, char** argv);

// The same parse and checks, without exiting (SIGHUP, app/reload.hpp): nullopt and the reason
// in `error` on bad input (or --help). `values`, when given, receives every option's value as
// text by option name ("jwt-issuer" -> "\"x\""), defaults included, to compare two parses by
// name (it holds secrets: never log a value).
std::optional<Config> try_parse_config(int argc, char** argv, std::string& error,
                                       std::map<std::string, std::string>* values = nullptr);

}  // namespace sig::app
