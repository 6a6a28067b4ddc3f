#include "app/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "app/admin_api.hpp"
#include "app/dev_mode.hpp"
#include "app/drain.hpp"
#include "app/io_runner.hpp"
#include "app/jwks_source.hpp"
#include "app/keys.hpp"
#include "app/listeners.hpp"
#include "app/reload.hpp"
#include "app/signaling_service.hpp"
#include "app/webhook_options.hpp"
#include "cluster/node.hpp"
#include "common/log.hpp"
#include "domain/clock.hpp"
#include "domain/hub.hpp"
#include "net/static_files.hpp"
#include "redis/url.hpp"
#include "store/memory_presence.hpp"

namespace sig::app {

namespace {

namespace asio = boost::asio;

bool any_redis_tls_option(const Config& config) {
  return !config.redis_tls_ca.empty() || !config.redis_tls_cert.empty() || !config.redis_tls_key.empty() ||
         !config.redis_tls_server_name.empty();
}

// The TLS options of a rediss:// --redis, checked now: a file that cannot be read or used is a
// start-up error.
redis::TlsOptions redis_tls_options(const Config& config) {
  redis::TlsOptions tls;
  tls.ca_file = config.redis_tls_ca;
  tls.cert_file = config.redis_tls_cert;
  tls.key_file = config.redis_tls_key;
  tls.server_name = config.redis_tls_server_name;
  for (const auto& [flag, path] :
       {std::pair<std::string_view, const std::string*>{"--redis-tls-ca", &tls.ca_file},
        {"--redis-tls-cert", &tls.cert_file},
        {"--redis-tls-key", &tls.key_file}}) {
    if (path->empty()) continue;
    const std::ifstream in(*path, std::ios::binary);
    if (!in) {
      throw std::runtime_error(std::string(flag) + ": cannot read " + *path + ": " +
                               std::error_code(errno, std::generic_category()).message());
    }
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw std::runtime_error("--redis-tls-cert and --redis-tls-key go together (mutual TLS)");
  }
  std::string why;
  if (redis::check_tls_options(tls, &why)) throw std::runtime_error("--redis TLS: " + why);
  return tls;
}

std::string render_metrics(const net::NetCounters& net, const net::ConnectionLimiter* limiter,
                           const ServiceCounters& svc, const domain::Hub& hub) {
  std::ostringstream o;
  auto line = [&o](std::string_view name, std::string_view type, std::string_view help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  const auto stats = hub.stats();
  line("signaling_sessions", "gauge", "Sessions known to this node", stats.sessions);
  line("signaling_live_sessions", "gauge", "Sessions not ended", stats.live_sessions);
  line("signaling_participants", "gauge", "Participants of this node (reconnecting ones included)",
       stats.participants);
  line("signaling_participants_reconnecting", "gauge",
       "Participants of this node whose connection was lost, within their resume window", stats.reconnecting);
  line("signaling_websockets_open", "gauge", "Open WebSocket connections", net.websockets_open.load());
  line("signaling_connections_accepted_total", "counter", "TCP connections accepted",
       net.connections_accepted.load());
  if (limiter != nullptr) {
    line("signaling_connections_open", "gauge", "Open connections (all kinds)",
         static_cast<std::uint64_t>(limiter->open()));
    line("signaling_connections_pending", "gauge", "Connections not joined to a session yet",
         static_cast<std::uint64_t>(limiter->pending()));
    o << "# HELP signaling_connections_refused_total Connections refused at a limit, by limit\n"
         "# TYPE signaling_connections_refused_total counter\n";
    for (const auto r : {net::Refusal::max_connections, net::Refusal::per_ip, net::Refusal::pending}) {
      o << "signaling_connections_refused_total{reason=\"" << net::to_string(r) << "\"} "
        << limiter->refused(r) << '\n';
    }
  }
  line("signaling_messages_in_total", "counter", "WebSocket messages received", net.messages_in.load());
  line("signaling_messages_out_total", "counter", "WebSocket messages sent", net.messages_out.load());
  line("signaling_slow_consumers_total", "counter", "Connections closed for a full write queue",
       net.slow_consumers.load());
  line("signaling_http_requests_total", "counter", "HTTP requests", net.http_requests.load());
  line("signaling_relayed_total", "counter", "Offers, answers and candidates relayed", svc.relayed.load());
  line("signaling_joins_total", "counter", "Participants admitted", svc.joins.load());
  line("signaling_heartbeats_total", "counter", "Heartbeats received", svc.heartbeats.load());
  line("signaling_errors_sent_total", "counter", "Error messages sent", svc.errors_sent.load());
  line("signaling_rate_limited_total", "counter", "Messages dropped by the rate limit",
       svc.rate_limited.load());
  o << "# HELP signaling_rejections_total Connections refused, by code\n# TYPE signaling_rejections_total "
       "counter\n";
  for (std::size_t i = 0; i < protocol::kErrorCount; ++i) {
    const auto n = svc.rejections[i].load();
    if (n > 0) {
      o << "signaling_rejections_total{code=\"" << protocol::to_string(static_cast<protocol::ErrorCode>(i))
        << "\"} " << n << '\n';
    }
  }
  return o.str();
}

// --jwt-jwks-url: fetched before the server listens. A failure is a start-up error naming the
// option when no other key is configured; with other keys (a secret, a PEM, a JWKS file) the
// server starts with them and the refreshes go on (docs/security.md, "Key rotation").
std::unique_ptr<JwksService> start_jwks(const Config& config, KeyRing& ring, auth::Verifier& verifier) {
  if (config.jwt_jwks_url.empty() || config.dev) return nullptr;
  JwksSourceOptions o;
  o.url = config.jwt_jwks_url;
  o.refresh = config.jwt_jwks_refresh;
  o.refresh_min = config.jwt_jwks_refresh_min;
  o.unknown_kid_interval = config.jwt_jwks_unknown_kid_interval;
  auto jwks = std::make_unique<JwksService>(o, config.jwt_jwks_ca,
                                            [&ring](auth::KeySet keys) { ring.set_remote(std::move(keys)); });
  verifier.set_unknown_kid_listener([source = jwks.get()](std::string_view) { source->unknown_kid(); });
  const std::string error = jwks->start_and_wait();
  if (!error.empty()) {
    if (ring.local_empty()) throw std::runtime_error("--jwt-jwks-url: " + config.jwt_jwks_url + ": " + error);
    log::warn("--jwt-jwks-url not fetched at start-up: serving with the other keys, retrying",
              {{"url", config.jwt_jwks_url}, {"error", error}});
  }
  return jwks;
}

// SIGHUP: the key material read again (a bad key refuses the whole reload), the URL fetched again.
void add_key_reload(Reloader& reloader, KeyRing& ring, JwksService* jwks) {
  reloader.add_hook({"jwt-secret", "jwt-secret-file", "jwt-public-key", "jwt-jwks-file"},
                    [&ring, jwks](const Config& before, const Config& after) {
                      if (after.jwt_jwks_url != before.jwt_jwks_url)
                        log::warn("reload: --jwt-jwks-url changed: the new URL is used after a restart");
                      auto local = load_local_keys(after);  // throws: nothing changes
                      if (local.empty() && !jwks) throw std::runtime_error("no token key left");
                      std::string described;
                      for (const auto& d : local.describe())
                        described += (described.empty() ? "" : ", ") + d;
                      ring.set_local(std::move(local));
                      log::info("reload: token keys", {{"keys", described}});
                      if (jwks) jwks->refresh_now();
                    });
}

}  // namespace

int run_server(const Config& config, std::vector<std::string> args) {
  log::init(config.log_level, config.log_format);

  // A SIGHUP during start-up (the JWKS fetch below may take seconds) has nothing to reload, the
  // configuration was just read: ignored rather than killing the process. The signal_set below
  // takes it over before anything listens.
  std::signal(SIGHUP, SIG_IGN);
  auto keys = make_token_keys(config);
  const auth::Verifier& verifier = keys.verifier;
  // Key sets (issue 13): the local keys and --jwt-jwks-url's, swapped into the verifier while
  // joins run; reloaded on SIGHUP.
  KeyRing key_ring(keys.verifier);
  if (!config.dev) {
    std::string described;
    for (const auto& d : keys.verifier.keys()->describe())
      described += (described.empty() ? "" : ", ") + d;
    log::info("token keys", {{"keys", described}});
  }
  auto jwks = start_jwks(config, key_ring, keys.verifier);
  Reloader reloader(std::move(args), config);
  add_key_reload(reloader, key_ring, jwks.get());

  domain::SystemClock clock;
  store::MemoryPresence presence;
  domain::SessionSettings settings;
  settings.max_participants = config.max_participants;
  settings.heartbeat_interval = config.heartbeat_interval;
  settings.heartbeat_timeout = config.heartbeat_timeout;
  settings.start_timeout = config.start_timeout;
  settings.empty_timeout = config.empty_timeout;
  settings.ended_retention = config.ended_retention;
  settings.resume_window = config.resume_window;
  settings.resume_queue_messages = config.resume_queue_messages;
  settings.resume_queue_bytes = config.resume_queue_bytes;
  if (!config.redis.empty() || !config.redis_cluster.empty()) {
    // A node's death is noticed up to --node-ttl after its participants' last message: the window
    // left to them then keeps the user story's bound (announced within the heartbeat timeout).
    const auto room = std::max(config.heartbeat_timeout - config.node_ttl, std::chrono::milliseconds(0));
    settings.remote_resume_window = std::min(config.resume_window, room);
  }
  if (!config.stun_uris.empty() || !config.turn_uris.empty() || config.ice_transport_policy != "all") {
    auto ice = std::make_shared<domain::IceSettings>();
    ice->stun_uris = config.stun_uris;
    ice->turn_uris = config.turn_uris;
    ice->turn_secret = config.turn_secret;
    ice->turn_ttl = config.turn_ttl;
    ice->default_policy = domain::ice_transport_policy_from(config.ice_transport_policy)
                              .value_or(domain::IceTransportPolicy::all);
    settings.ice = std::move(ice);
  }

  const unsigned threads =
      config.threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : config.threads;
  asio::io_context ioc(static_cast<int>(threads));
  // Taken over before anything listens: a SIGTERM right after the "listening" line must drain,
  // not kill the process with the default action. Asio keeps a signal until it is waited for.
  asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  const std::string node_id = config.node_id.empty() ? random_hex(4) : config.node_id;

  // Signed webhooks (docs/webhooks.md): always there, so that SIGHUP can add targets later; with
  // none it ignores the events. It outlives the hub and the cluster node, which hold pointers to it.
  webhook::Publisher webhooks(ioc, webhook_settings(config.webhook));
  if (!config.webhook.urls.empty()) {
    log::info("webhooks",
              {{"targets", static_cast<std::uint64_t>(config.webhook.urls.size())},
               {"queue_limit", static_cast<std::uint64_t>(config.webhook.queue_limit)},
               {"tls_ca", config.webhook.tls_ca.empty() ? "system trust store" : config.webhook.tls_ca}});
  }
  // The platform's events. With several nodes the hub's events go through the cluster node's
  // gate, which emits each event on one node only (cluster/events.hpp).
  domain::EventSink* const platform_events = &webhooks;

  // Several nodes: the state lives in Redis; the cluster node is the hub's event sink.
  std::unique_ptr<cluster::Node> node;
  std::string redis_shown;
  const bool several = !config.redis.empty() || !config.redis_cluster.empty();
  if (several) {
    // --redis (one server) or --redis-cluster (seeds; the URL carries scheme and password).
    const bool cluster = !config.redis_cluster.empty();
    const auto& text = cluster ? config.redis_cluster_url : config.redis;
    const std::string flag = cluster ? "--redis-cluster" : "--redis";
    std::string why;
    const auto url = redis::parse_redis_url(text, &why);
    if (!url) throw std::runtime_error(flag + ": " + why);
    cluster::NodeOptions o;
    if (url->tls) {
      o.redis_tls = redis_tls_options(config);
      log::info("redis over TLS",
                {{"ca", o.redis_tls.ca_file.empty() ? "system trust store" : o.redis_tls.ca_file},
                 {"client_cert", o.redis_tls.cert_file},
                 {"server_name", o.redis_tls.server_name.empty() ? url->host : o.redis_tls.server_name}});
    } else if (any_redis_tls_option(config)) {
      throw std::runtime_error("--redis-tls-* options need a rediss:// URL in " + flag + " (it is " +
                               url->to_string() + ")");
    }
    redis_shown = cluster ? "cluster " + config.redis_cluster_seeds.front() : url->to_string();
    o.redis_url = text;
    o.redis_cluster_seeds = config.redis_cluster_seeds;
    o.node_id = node_id;
    o.node_ttl = config.node_ttl;
    o.sync_interval = config.cluster_sync;
    o.max_participants = config.max_participants;
    o.resume_window = config.resume_window;
    o.heartbeat_interval = config.heartbeat_interval;
    o.ended_retention = config.ended_retention;
    o.start_timeout = config.start_timeout;  // deadlines.hpp
    o.empty_timeout = config.empty_timeout;
    node = std::make_unique<cluster::Node>(ioc.get_executor(), clock, o, platform_events);
  }
  if (!several && any_redis_tls_option(config))
    log::warn("--redis-tls-* options without --redis or --redis-cluster: ignored");
  // SIGHUP: the targets and the secret (a rewritten --webhook-secret-file included); a target
  // that stays keeps its queue (docs/webhooks.md). Checked by the parse before any hook runs.
  reloader.add_hook({"webhook-url", "webhook-secret", "webhook-secret-file"},
                    [&webhooks](const Config&, const Config& after) {
                      webhooks.reconfigure(after.webhook.urls, after.webhook.key);
                      log::info("reload: webhook targets",
                                {{"targets", static_cast<std::uint64_t>(after.webhook.urls.size())}});
                    });
  domain::Hub hub(clock, settings, node ? static_cast<domain::PresenceSink*>(node.get()) : &presence,
                  node ? node->events() : platform_events);
  if (node) node->attach(hub);

  SignalingService service(hub, verifier, service_options(config), node.get());
  // SIGHUP: limits that apply to new work only (docs/deployment.md, "Reload").
  reloader.add_hook({"rate-limit", "rate-burst"}, [&service](const Config&, const Config& after) {
    service.set_rate_limits(after.rate_limit, after.rate_burst);
  });

  std::optional<auth::Signer> dev_signer;
  std::optional<DevMode> dev;
  if (config.dev) {
    dev_signer.emplace(auth::Signer::hmac(auth::Algorithm::HS256, keys.dev_secret));
    dev = DevMode{&*dev_signer};
    if (!node) hub.put_session(dev->session_id, demo_session());  // with Redis: once connected
    log::warn(
        "DEVELOPMENT MODE IS ON: UNSAFE. /dev/token hands a valid token to anyone who asks; never use --dev "
        "in production",
        {{"session", dev->session_id}});
  }
  if (config.admin_key.empty()) log::warn("no --admin-key: the admin API refuses every call");

  net::ServerContext* context_ptr = nullptr;
  AdminApi admin(
      hub, config.admin_key,
      [&] {
        auto text =
            render_metrics(context_ptr->counters, context_ptr->limiter.get(), service.counters(), hub);
        if (node) {
          text +=
              "# HELP signaling_redis_ready 1 while Redis is reachable and the sessions are loaded\n"
              "# TYPE signaling_redis_ready gauge\nsignaling_redis_ready ";
          text += node->ready() ? "1\n" : "0\n";
        }
        text += webhook_metrics(webhooks.stats());
        text +=
            "# HELP signaling_draining 1 from SIGTERM on: upgrades refused, clients told to move\n"
            "# TYPE signaling_draining gauge\nsignaling_draining ";
        text += context_ptr->websockets.draining() ? "1\n" : "0\n";
        return text;
      },
      dev);

  if (node) admin.set_cluster(node.get());

  net::StaticFiles static_files;
  if (!config.web_root.empty()) {
    try {
      static_files.load(config.web_root);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("--web-root: ") + e.what());
    }
  }

  net::ServerContext context(service, admin);
  if (!config.web_root.empty()) context.static_files = &static_files;
  context_ptr = &context;
  context.options.max_message_size = config.max_message_size;
  context.options.write_queue_limit = config.write_queue_limit;
  context.options.http.max_header_bytes = config.http_max_header_bytes;
  context.options.http.max_body_bytes = config.http_max_body_bytes;
  context.options.http.head_timeout = config.http_head_timeout;
  context.options.http.idle_timeout = config.http_idle_timeout;
  context.options.http.max_requests = config.http_max_requests;
  context.options.http.max_lifetime = config.http_max_lifetime;
  context.node_id = node_id;

  context.limiter = std::make_shared<net::ConnectionLimiter>(connection_limits(config));
  for (const auto& cidr : config.trusted_proxies)
    context.trusted_proxies.add(*net::parse_cidr(cidr));  // checked by the option's validator
  const auto listeners = open_listeners(ioc, config, context);

  // Housekeeping: heartbeat timeouts and session timeouts, on its own strand.
  auto strand = asio::make_strand(ioc);
  asio::steady_timer timer(strand);
  bool stopping = false;
  std::function<void()> schedule = [&] {
    timer.expires_after(hub.tick_interval());
    timer.async_wait([&](boost::system::error_code ec) {
      if (ec || stopping) return;
      hub.tick(clock.now());
      schedule();
    });
  };
  auto serve = [&] {
    listeners.run();
    if (listeners.admin) {
      log::info("admin listening",
                {{"address", config.admin_listen}, {"port", static_cast<unsigned>(listeners.admin->port())}});
    }
    asio::post(strand, schedule);
    if (!node) admin.set_ready(true);
    log::info("listening", {{"address", config.listen},
                            {"port", static_cast<unsigned>(listeners.main->port())},
                            {"threads", threads},
                            {"node", context.node_id},
                            {"redis", redis_shown},
                            {"web_root", config.web_root},
                            {"dev", config.dev}});
  };

  int exit_code = 0;
  if (node) {
    node->on_ready_changed([&admin, &context](bool ready) {
      // A draining node stays not ready, whatever Redis does. The second look closes the race
      // with a drain that starts between the first look and set_ready.
      admin.set_ready(ready && !context.websockets.draining());
      if (context.websockets.draining()) admin.set_ready(false);
    });
    log::info("connecting to redis", {{"redis", redis_shown}, {"node", node_id}});
    node->start([&](std::error_code ec) {
      if (ec) {
        log::error("cannot connect to redis at start-up", {{"redis", redis_shown}, {"error", ec.message()}});
        std::cerr << "signaling-server: cannot connect to redis at " << redis_shown << ": " << ec.message()
                  << '\n';
        exit_code = 1;
        ioc.stop();
        return;
      }
      if (dev) hub.put_session(dev->session_id, demo_session());
      serve();
    });
  } else {
    serve();
  }

  // The stop: the listeners close, every connection gets 1001, Redis is told and closed.
  asio::steady_timer grace(strand);
  auto stop = [&] {  // on the strand
    if (stopping) return;
    stopping = true;
    admin.set_ready(false);
    timer.cancel();
    listeners.stop();
    hub.shutdown();
    if (node) node->stop();
    grace.expires_after(std::chrono::milliseconds(500));
    grace.async_wait([&](boost::system::error_code) {
      if (!node) {
        ioc.stop();
        return;
      }
      // The Redis connections are closed while the loop still runs, so they are freed.
      node->close();
      grace.expires_after(std::chrono::milliseconds(100));
      grace.async_wait([&](boost::system::error_code) { ioc.stop(); });
    });
  };
  const auto undelivered = [&webhooks] { return webhooks.outstanding(); };
  Drain drain(strand, context.websockets, {config.drain_period, config.drain_timeout, undelivered},
              [&](DrainEnd) {
                log::info("stopping", {{"after", "drain"}});
                stop();
              });

  // SIGTERM (what supervisors and orchestrators send) drains: /readyz 503 at once, the clients
  // told to move over --drain-period, the stop when they are gone. SIGINT (Ctrl-C), or a second
  // signal during a drain, stops at once.
  auto on_signal = [&](int signo) {  // on the strand
    if (stopping) return;
    if (signo == SIGHUP) {  // app/reload.hpp: the connections stay
      if (!config.dev) reloader.reload();
      return;
    }
    if (signo == SIGTERM && !drain.started()) {
      log::info("signal", {{"signal", signo}, {"action", "drain"}});
      drain.start();  // sets the draining flag first: on_ready_changed reads it
      admin.set_ready(false);
      return;
    }
    if (drain.running()) {
      drain.interrupt();  // logs the end of the drain, then stops
      return;
    }
    log::info("stopping", {{"signal", signo}});
    stop();
  };
  std::function<void()> await_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int signo) {
      if (ec) return;
      asio::post(strand, [&on_signal, signo] { on_signal(signo); });
      await_signal();
    });
  };
  await_signal();

  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([&ioc] { run_io(ioc); });
  run_io(ioc);
  for (auto& t : pool)
    t.join();
  log::info("stopped");
  return exit_code;
}

}  // namespace sig::app
