#include "app/redis_options.hpp"

#include <CLI/CLI.hpp>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "app/option_helpers.hpp"
#include "app/secret_file.hpp"
#include "redis/url.hpp"

namespace sig::app {

namespace {

using namespace std::chrono_literals;

constexpr DurationRange kNodeTtl{300ms, 10min};
constexpr DurationRange kClusterSync{100ms, 1h};

// "a, b,c" -> {"a", "b", "c"} (blanks around the items dropped, empty items skipped).
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// --redis-cluster: the seeds, and one URL with the scheme and password of every node.
void load_redis_cluster(Config& c, const std::string& password_file) {
  std::optional<redis::RedisUrl> common;
  for (const auto& part : split_list(c.redis_cluster)) {
    std::string why;
    const auto text = part.find("://") == std::string::npos ? "redis://" + part : part;
    const auto url = redis::parse_redis_url(text, &why);
    if (!url)
      throw std::runtime_error(std::string("--redis-cluster: ").append(part).append(": ").append(why));
    if (url->db != 0) throw std::runtime_error("--redis-cluster: a cluster has only db 0 (" + part + ")");
    if (common &&
        (common->tls != url->tls || common->password != url->password || common->username != url->username))
      throw std::runtime_error("--redis-cluster: every seed takes the same scheme and password");
    if (!common) common = url;
    const bool v6 = url->host.find(':') != std::string::npos;
    c.redis_cluster_seeds.push_back((v6 ? "[" + url->host + "]" : url->host) + ":" +
                                    std::to_string(url->port));
  }
  if (!common) throw std::runtime_error("--redis-cluster: no seed node (host:port[,host:port...])");
  if (!password_file.empty()) {
    if (!common->password.empty())
      throw std::runtime_error("--redis-password-file: the --redis-cluster seeds already have a password");
    common->password = read_secret_file(password_file, "--redis-password-file");
  }
  c.redis_cluster_url = common->to_string(true);
}

}  // namespace

void add_redis_options(CLI::App& app, Config& c, std::string& password_file) {
  app.add_option(
         "--redis", c.redis,
         "Shared Redis for several nodes: redis://[[user]:password@]host[:port][/db], or rediss:// for "
         "TLS (see --redis-tls-*); without it the state stays in this process")
      ->envname("SIGNALING_REDIS");
  app.add_option("--redis-cluster", c.redis_cluster,
                 "A Redis Cluster instead of --redis: seed nodes host:port[,host:port...] (or "
                 "redis[s]://[:password@]host:port items); keys carry the session's hash tag, events go "
                 "by sharded pub/sub (docs/deployment.md, \"Redis Cluster\")")
      ->envname("SIGNALING_REDIS_CLUSTER");
  app.add_option("--redis-password-file", password_file,
                 "File holding the password of --redis (AUTH; mode 0600 or 0400; one trailing newline is "
                 "ignored); the URL then has none")
      ->envname("SIGNALING_REDIS_PASSWORD_FILE");
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
               "Several nodes: a node whose alive key is older than this is dead; its participants are then "
               "reconnecting for the resume window",
               "SIGNALING_NODE_TTL", kNodeTtl);
  add_duration(app, "--cluster-sync", c.cluster_sync,
               "Several nodes: re-read the sessions this node hosts from Redis this often (directory entries "
               "written by the platform)",
               "SIGNALING_CLUSTER_SYNC", kClusterSync);
}

void load_redis_options(Config& c, const std::string& password_file) {
  if (!c.redis.empty() && !c.redis_cluster.empty())
    throw std::runtime_error("give --redis or --redis-cluster, not both");
  if (!c.redis.empty()) {
    std::string why;
    auto url = redis::parse_redis_url(c.redis, &why);
    if (!url) throw std::runtime_error("--redis: " + why);
    if (!password_file.empty()) {
      if (!url->password.empty())
        throw std::runtime_error("--redis-password-file: the --redis URL already has a password");
      url->password = read_secret_file(password_file, "--redis-password-file");
      // The password travels inside the URL from here on, in memory only (logs mask it).
      c.redis = url->to_string(true);
    }
  } else if (!c.redis_cluster.empty()) {
    load_redis_cluster(c, password_file);
  } else if (!password_file.empty()) {
    throw std::runtime_error("--redis-password-file needs --redis or --redis-cluster");
  }
}

}  // namespace sig::app
