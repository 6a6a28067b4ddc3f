#include "app/config.hpp"

#include <CLI/CLI.hpp>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "app/jwt_options.hpp"
#include "app/keys.hpp"
#include "app/option_helpers.hpp"
#include "app/redis_options.hpp"
#include "app/secret_file.hpp"
#include "domain/ice_servers.hpp"
#include "net/client_address.hpp"

namespace sig::app {

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Ranges of the durations (docs: README.md, options table). Each lower bound keeps a timer from
// spinning; each upper bound keeps a value far from any overflow (int64 milliseconds, and the
// browsers' setTimeout, which fires at once past 2^31 ms) and from "forever" by mistake.
constexpr DurationRange kHeartbeatInterval{100ms, 5min};
constexpr DurationRange kHeartbeatTimeout{200ms, 15min};
constexpr DurationRange kSessionTimer{100ms, std::chrono::hours(24 * 30)};
constexpr DurationRange kResumeWindow{0ms, 10min};
constexpr DurationRange kHttpTimer{100ms, 24h};
// The drain: 0 tells everyone at once (and, as a timeout, exits at once); a supervisor waits
// a bounded time before it kills (Kubernetes: terminationGracePeriodSeconds), so does ten minutes.
constexpr DurationRange kDrain{0ms, 10min};
// TURN credentials: under a minute only for tests (a refresh every 80 % of it); a day at most,
// since a leaked credential cannot be revoked before it expires (the server refreshes them on
// long sessions anyway).
constexpr DurationRange kTurnTtl{10s, 24h};
// A shorter --turn-secret lets anyone who sees one credential guess the secret offline and mint
// credentials for the relay.
constexpr std::size_t kMinTurnSecret = 16;

// An IP address literal (no name is resolved here).
CLI::Validator ip_address() {
  return {[](std::string& text) -> std::string {
            boost::system::error_code ec;
            (void)boost::asio::ip::make_address(text, ec);
            if (ec) return "not an IP address: \"" + text + "\" (use e.g. 0.0.0.0, 127.0.0.1 or ::)";
            return {};
          },
          "IP"};
}

// A node id: it prefixes connection ids ("<node-id>:<n>") and Redis entries, and a node matches
// its own entries by that prefix, so a ':' (node "a" would take "a:b"'s entries) or an unbounded
// length is refused.
CLI::Validator node_id_text() {
  return {[](std::string& text) -> std::string {
            if (text.size() > 64) return "at most 64 characters";
            for (const char ch : text) {
              const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
              if (!ok) return "only letters, digits, '-', '_' and '.' (got \"" + text + "\")";
            }
            return {};
          },
          "ID"};
}

bool env_set(const std::string& name) {
  if (name.empty()) return false;
  const char* value =
      std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  return value != nullptr && *value != '\0';
}

// The config file's reader: refuses a key that names no option (a misspelled `jwt-isuer` must not
// leave the issuer unchecked), and drops the keys whose environment variable is set, so that the
// environment wins over the file (CLI11 alone reads the file first and lets it win).
class StrictConfig final : public CLI::ConfigTOML {
 public:
  explicit StrictConfig(const CLI::App& app) : app_(app) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    auto parsed = CLI::ConfigTOML::from_config(input);
    std::vector<CLI::ConfigItem> kept;
    std::string unknown;
    for (auto& item : parsed) {
      if (item.name == "++" || item.name == "--") continue;  // section markers
      const CLI::Option* opt = item.parents.empty() ? app_.get_option_no_throw("--" + item.name) : nullptr;
      if (opt == nullptr || item.name == "config" || item.name == "help") {
        unknown += (unknown.empty() ? "" : ", ") + item.fullname();
        continue;
      }
      if (!env_set(opt->get_envname())) kept.push_back(std::move(item));
    }
    if (!unknown.empty()) throw CLI::ConfigError("--config: unknown option(s) in the file: " + unknown);
    return kept;
  }

 private:
  const CLI::App& app_;
};

// A bad configuration: parse_config prints it and exits, try_parse_config returns it.
struct ConfigFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message) {
  throw ConfigFailure(message);
}

bool is_loopback(const std::string& address) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(address, ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).is_loopback();
  return a.is_loopback();
}

struct SecretFiles {
  std::string jwt_secret;
  std::string admin_key;
  std::string redis_password;
  std::string turn_secret;
};

// Reads the secret files into the configuration; every error names its option.
void load_secrets(Config& c, const SecretFiles& files) {
  if (!files.jwt_secret.empty()) {
    // Beside --jwt-secret values with kids (rotation: the new secret in a file, the old one
    // still given), not beside a second secret without kid.
    c.jwt_secrets.push_back(read_secret_file(files.jwt_secret, "--jwt-secret-file"));
  }
  if (!files.admin_key.empty()) {
    if (!c.admin_key.empty()) throw std::runtime_error("give --admin-key or --admin-key-file, not both");
    c.admin_key = read_secret_file(files.admin_key, "--admin-key-file");
  }
  if (!files.turn_secret.empty()) {
    if (!c.turn_secret.empty())
      throw std::runtime_error("give --turn-secret or --turn-secret-file, not both");
    c.turn_secret = read_secret_file(files.turn_secret, "--turn-secret-file");
  }
  load_redis_options(c, files.redis_password);
}

// --dev is for one developer's machine: it must not be able to mint tokens that anything else
// accepts, nor to write into a shared store, nor to be reached from the network.
void check_dev(const Config& c, const SecretFiles& files) {
  if (!c.redis.empty() || !c.redis_cluster.empty()) {
    throw std::runtime_error(
        "--dev cannot be combined with --redis or --redis-cluster (a development node never joins a "
        "cluster)");
  }
  if (!c.jwt_secrets.empty() || !files.jwt_secret.empty() || !c.jwt_public_key_file.empty() ||
      !c.jwt_jwks_file.empty() || !c.jwt_jwks_url.empty()) {
    throw std::runtime_error(
        "--dev cannot be combined with --jwt-secret, --jwt-secret-file, --jwt-public-key or --jwt-jwks-* "
        "(it makes a random secret of its own, so its tokens are worthless elsewhere)");
  }
  if (!is_loopback(c.listen)) {
    throw std::runtime_error("--dev listens on a loopback address only (127.0.0.1 or ::1); --listen is " +
                             c.listen);
  }
}

// A STUN or TURN URI (domain::check_ice_uri).
CLI::Validator ice_uri(bool turn) {
  return {[turn](std::string& text) -> std::string {
            auto why = domain::check_ice_uri(text, turn);
            return why ? "\"" + text + "\": " + *why : std::string();
          },
          "URI"};
}

// TURN needs its secret and the secret needs TURN URIs; a secret too short to resist guessing is
// refused.
void check_ice(const Config& c) {
  if (!c.turn_uris.empty() && c.turn_secret.empty())
    throw std::runtime_error("--turn-uri needs --turn-secret or --turn-secret-file");
  if (c.turn_uris.empty() && !c.turn_secret.empty())
    throw std::runtime_error("--turn-secret without --turn-uri: give the TURN server's URI(s)");
  if (c.ice_transport_policy == "relay" && c.turn_uris.empty()) {
    throw std::runtime_error(
        "--ice-transport-policy relay needs --turn-uri (a relay-only call needs a TURN server)");
  }
  if (!c.turn_secret.empty() && c.turn_secret.size() < kMinTurnSecret) {
    throw std::runtime_error("--turn-secret must have at least " + std::to_string(kMinTurnSecret) +
                             " characters (e.g. openssl rand -hex 32)");
  }
}

void add_ice_options(CLI::App& app, Config& c, SecretFiles& files) {
  app.add_option("--stun-uri", c.stun_uris, "STUN server handed to clients (repeatable): stun:host[:port]")
      ->envname("SIGNALING_STUN_URI")
      ->delimiter(',')
      ->check(ice_uri(false));
  app.add_option(
         "--turn-uri", c.turn_uris,
         "TURN server handed to clients with credentials (repeatable): turn:host[:port][?transport=udp|tcp] "
         "or turns:host[:port][?transport=tcp]")
      ->envname("SIGNALING_TURN_URI")
      ->delimiter(',')
      ->check(ice_uri(true));
  app.add_option("--turn-secret", c.turn_secret,
                 "coturn's static-auth-secret (use-auth-secret): signs the TURN credentials")
      ->envname("SIGNALING_TURN_SECRET");
  app.add_option("--turn-secret-file", files.turn_secret,
                 "File holding the --turn-secret (mode 0600 or 0400; one trailing newline is ignored)")
      ->envname("SIGNALING_TURN_SECRET_FILE");
  add_duration(app, "--turn-ttl", c.turn_ttl,
               "Lifetime of the TURN credentials; fresh ones are sent at 80 % of it", "SIGNALING_TURN_TTL",
               kTurnTtl);
  app.add_option("--ice-transport-policy", c.ice_transport_policy,
                 "Default of the sessions: all, or relay (TURN only: participants never see each other's "
                 "addresses)")
      ->envname("SIGNALING_ICE_TRANSPORT_POLICY")
      ->check(CLI::IsMember({"all", "relay"}));
}

void add_options(CLI::App& app, Config& c, SecretFiles& files) {
  app.add_option("--listen", c.listen, "Address to listen on (with --dev: 127.0.0.1 by default)")
      ->envname("SIGNALING_LISTEN")
      ->check(ip_address());
  app.add_option("--port", c.port, "TCP port; 0 picks a free one")
      ->envname("SIGNALING_PORT")
      ->check(CLI::Range(0, 65535));
  app.add_option("--threads", c.threads, "Network threads; 0 = one per core")
      ->envname("SIGNALING_THREADS")
      ->check(CLI::Range(0, 256));

  add_jwt_options(app, c, files.jwt_secret);

  app.add_option("--admin-key", c.admin_key,
                 "Bearer key of the admin API; without it the API refuses every call")
      ->envname("SIGNALING_ADMIN_KEY");
  app.add_option("--admin-key-file", files.admin_key,
                 "File holding the --admin-key (mode 0600 or 0400; one trailing newline is ignored)")
      ->envname("SIGNALING_ADMIN_KEY_FILE");

  add_duration(app, "--heartbeat-interval", c.heartbeat_interval, "Heartbeat interval told to clients",
               "SIGNALING_HEARTBEAT_INTERVAL", kHeartbeatInterval);
  add_duration(app, "--heartbeat-timeout", c.heartbeat_timeout,
               "Close a connection silent for this long (more than --heartbeat-interval)",
               "SIGNALING_HEARTBEAT_TIMEOUT", kHeartbeatTimeout);
  add_duration(
      app, "--resume-window", c.resume_window,
      "How long a participant whose connection was lost keeps its place for a resume (0: it leaves at "
      "once); never longer than --heartbeat-timeout after its last message",
      "SIGNALING_RESUME_WINDOW", kResumeWindow);
  app.add_option("--resume-queue-messages", c.resume_queue_messages,
                 "Messages kept for a reconnecting participant; beyond, the sender gets an undelivered error")
      ->envname("SIGNALING_RESUME_QUEUE_MESSAGES")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--resume-queue-bytes", c.resume_queue_bytes, "Bytes kept for a reconnecting participant")
      ->envname("SIGNALING_RESUME_QUEUE_BYTES")
      ->check(CLI::Range(1024, 64 << 20));
  app.add_option("--max-participants", c.max_participants, "Connected participants per session")
      ->envname("SIGNALING_MAX_PARTICIPANTS")
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-message-size", c.max_message_size, "Largest WebSocket message, bytes")
      ->envname("SIGNALING_MAX_MESSAGE_SIZE")
      ->check(CLI::Range(256, 16 << 20));
  app.add_option("--rate-limit", c.rate_limit, "Messages per second per connection; 0 disables the limit")
      ->envname("SIGNALING_RATE_LIMIT")
      ->check(finite_range(0, 1e6));
  app.add_option("--rate-burst", c.rate_burst, "Burst size of the per-connection rate limit")
      ->envname("SIGNALING_RATE_BURST")
      ->check(finite_range(1, 1e6));
  app.add_option("--write-queue-limit", c.write_queue_limit,
                 "Bytes queued for one connection before it is closed as a slow consumer")
      ->envname("SIGNALING_WRITE_QUEUE_LIMIT")
      ->check(CLI::Range(4096, 1 << 30));
  add_duration(app, "--start-timeout", c.start_timeout,
               "End a session not started this long after its creation", "SIGNALING_START_TIMEOUT",
               kSessionTimer);
  add_duration(app, "--empty-timeout", c.empty_timeout, "End a started session that stays empty this long",
               "SIGNALING_EMPTY_TIMEOUT", kSessionTimer);
  add_duration(app, "--ended-retention", c.ended_retention, "Forget an ended session after this long",
               "SIGNALING_ENDED_RETENTION", kSessionTimer);

  app.add_option("--http-max-header-bytes", c.http_max_header_bytes,
                 "Largest HTTP request head, chunk extensions and trailer together, bytes (431 beyond)")
      ->envname("SIGNALING_HTTP_MAX_HEADER_BYTES")
      ->check(CLI::Range(1024, 65'000));
  app.add_option("--http-max-body-bytes", c.http_max_body_bytes,
                 "Largest admin API request body, bytes (413 beyond); other routes take no body")
      ->envname("SIGNALING_HTTP_MAX_BODY_BYTES")
      ->check(CLI::Range(1024, 64 << 20));
  add_duration(app, "--http-head-timeout", c.http_head_timeout,
               "Time for a request head to arrive, from its first byte", "SIGNALING_HTTP_HEAD_TIMEOUT",
               kHttpTimer);
  add_duration(app, "--http-idle-timeout", c.http_idle_timeout,
               "Close an HTTP connection that sends no request for this long", "SIGNALING_HTTP_IDLE_TIMEOUT",
               kHttpTimer);
  app.add_option("--http-max-requests", c.http_max_requests, "Requests per HTTP keep-alive connection")
      ->envname("SIGNALING_HTTP_MAX_REQUESTS")
      ->check(CLI::Range(1, 1'000'000));
  add_duration(app, "--http-max-lifetime", c.http_max_lifetime,
               "No new request on an HTTP keep-alive connection older than this",
               "SIGNALING_HTTP_MAX_LIFETIME", kHttpTimer);

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
  add_ice_options(app, c, files);

  app.add_option("--web-root", c.web_root, "Directory of static pages served at / (the demo room)")
      ->envname("SIGNALING_WEB_ROOT")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--dev", c.dev,
               "UNSAFE development mode: a demo session and /dev/token hand out tokens to anyone (loopback "
               "only, a random secret, tokens for the demo session only)")
      ->envname("SIGNALING_DEV");
  app.add_option("--node-id", c.node_id,
                 "Prefix of connection ids (random when empty; up to 64 letters, digits, '-', '_', '.')")
      ->envname("SIGNALING_NODE_ID")
      ->check(node_id_text());

  add_redis_options(app, c, files.redis_password);

  add_duration(app, "--drain-period", c.drain_period,
               "SIGTERM: tell every WebSocket client to move (close 1012) spread over this long; 0 = all at "
               "once",
               "SIGNALING_DRAIN_PERIOD", kDrain);
  add_duration(app, "--drain-timeout", c.drain_timeout,
               "SIGTERM: exit when the last WebSocket is gone, or after this long (at least --drain-period)",
               "SIGNALING_DRAIN_TIMEOUT", kDrain);

  add_webhook_options(app, c.webhook);

  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->envname("SIGNALING_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", c.log_format, "json or text")
      ->envname("SIGNALING_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text"}));
}

}  // namespace

namespace {

// The parse shared by parse_config and try_parse_config. Throws CLI::ParseError (bad flags,
// --help) and ConfigFailure (bad values, bad combinations).
Config parse(int argc, char** argv, CLI::App& app) {
  Config c;
  SecretFiles files;
  app.set_config(
      "--config", "",
      "Read options from a TOML/INI file (a flag wins over the environment, which wins over the file)");
  app.config_formatter(std::make_shared<StrictConfig>(app));
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.option_defaults()->always_capture_default();
  add_options(app, c, files);

  app.parse(argc, argv);
  if (c.heartbeat_timeout <= c.heartbeat_interval) {
    fail("--heartbeat-timeout (" + show(c.heartbeat_timeout) +
         ") must be longer than --heartbeat-interval (" + show(c.heartbeat_interval) + ")");
  }
  if (c.drain_period > c.drain_timeout) {
    fail("--drain-period (" + show(c.drain_period) + ") must not be longer than --drain-timeout (" +
         show(c.drain_timeout) + ")");
  }
  if (c.jwt_jwks_refresh < c.jwt_jwks_refresh_min) {
    fail("--jwt-jwks-refresh (" + show(c.jwt_jwks_refresh) +
         ") must not be shorter than --jwt-jwks-refresh-min (" + show(c.jwt_jwks_refresh_min) + ")");
  }
  if (c.dev && app.count("--listen") == 0) c.listen = "127.0.0.1";
  try {
    if (c.dev) check_dev(c, files);
    load_secrets(c, files);
    check_jwt_secrets(c.jwt_secrets);
    check_ice(c);
    load_webhook_options(c.webhook);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (c.jwt_secrets.empty() && c.jwt_public_key_file.empty() && c.jwt_jwks_file.empty() &&
      c.jwt_jwks_url.empty() && !c.dev) {
    fail(
        "no token key: give --jwt-secret, --jwt-secret-file, --jwt-public-key, --jwt-jwks-file or "
        "--jwt-jwks-url (or --dev for a demo)");
  }
  return c;
}

const char* const kAbout =
    "signaling-server: WebRTC signaling for small group sessions (full mesh, 2-6 participants)";

}  // namespace

Config parse_config(int argc, char** argv) {
  CLI::App app{kAbout};
  try {
    return parse(argc, argv, app);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  } catch (const std::exception& e) {
    std::cerr << "signaling-server: " << e.what() << '\n';
    std::exit(2);  // NOLINT(concurrency-mt-unsafe): start-up, before any thread
  }
}

std::optional<Config> try_parse_config(int argc, char** argv, std::string& error,
                                       std::map<std::string, std::string>* values) {
  CLI::App app{kAbout};
  try {
    Config c = parse(argc, argv, app);
    if (values != nullptr) {
      // CLI11 writes every option as a TOML line "name=value" (arrays as [a,b]).
      std::istringstream lines(app.config_to_str(true, false));
      for (std::string line; std::getline(lines, line);) {
        const auto eq = line.find('=');
        if (line.empty() || line[0] == '#' || line[0] == '[' || eq == std::string::npos) continue;
        (*values)[line.substr(0, eq)] = line.substr(eq + 1);
      }
    }
    return c;
  } catch (const CLI::CallForHelp&) {
    error = "--help";
  } catch (const std::exception& e) {  // CLI::ParseError, ConfigFailure, a secret file unreadable
    error = e.what();
  }
  return std::nullopt;
}

}  // namespace sig::app
