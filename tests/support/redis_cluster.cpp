#include "support/redis_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "redis/protocol.hpp"
#include "support/redis_server.hpp"

extern char** environ;  // NOLINT

namespace sig::test {

namespace {

constexpr const char* kServer = "/usr/bin/redis-server";
constexpr const char* kCli = "/usr/bin/redis-cli";
using Clock = std::chrono::steady_clock;

bool port_free(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;  // NOLINT
  ::close(fd);
  return ok;
}

// Six ports p with p and p + 10000 free, all below 55536.
std::vector<std::uint16_t> pick_ports(std::size_t n) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> dist(20000, 45000);
  std::vector<std::uint16_t> out;
  for (int tries = 0; out.size() < n && tries < 1000; ++tries) {
    const auto p = static_cast<std::uint16_t>(dist(rng));
    bool taken = false;
    for (auto q : out)
      taken = taken || q == p || q + 10000 == p || p + 10000 == q;
    if (!taken && port_free(p) && port_free(static_cast<std::uint16_t>(p + 10000))) out.push_back(p);
  }
  if (out.size() < n) throw std::runtime_error("no free ports for the redis cluster");
  return out;
}

pid_t spawn_process(const std::vector<std::string>& args, const std::filesystem::path& out) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + " failed");
  return pid;
}

std::optional<redis::Reply> read_reply(int fd) {
  std::string in;
  std::array<char, 65536> buf{};
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return std::nullopt;
    in.append(buf.data(), static_cast<std::size_t>(n));
    if (auto reply = redis::cluster::decode_resp(in); reply) return reply;
  }
}

bool send_command(int fd, const std::vector<std::string>& args) {
  const std::string req = redis::detail::format_command(args);
  return ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
}

// One command on a new blocking connection (2 s timeouts), after AUTH when password is set.
std::optional<redis::Reply> blocking_command(std::uint16_t port, const std::vector<std::string>& args,
                                             const std::string& password = {}) {
  const int fd = connect_loopback(port, std::chrono::seconds(2));
  if (fd < 0) return std::nullopt;
  std::optional<redis::Reply> reply;
  const bool authed = password.empty() || (send_command(fd, {"AUTH", password}) && read_reply(fd));
  if (authed && send_command(fd, args)) reply = read_reply(fd);
  ::close(fd);
  return reply;
}

}  // namespace

bool RedisCluster::available() {
  return ::access(kServer, X_OK) == 0 && ::access(kCli, X_OK) == 0;
}

RedisCluster::RedisCluster(std::vector<std::string> extra_args, std::string password)
    : password_(std::move(password)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sig-redis-cluster-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  try {
    const auto ports = pick_ports(6);
    for (const auto p : ports) {
      Node node;
      node.port = p;
      node.dir = root_ / std::to_string(p);
      std::filesystem::create_directories(node.dir);
      nodes_.push_back(node);
    }
    for (auto& node : nodes_)
      spawn(node, extra_args);
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (!blocking_command(nodes_[i].port, {"PING"}, password_)) {
        if (Clock::now() > deadline) throw std::runtime_error("redis cluster node did not start");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::vector<std::string> create{kCli};
    if (!password_.empty()) create.insert(create.end(), {"-a", password_, "--no-auth-warning"});
    create.insert(create.end(), {"--cluster", "create"});
    for (const auto& s : seeds())
      create.push_back(s);
    create.insert(create.end(), {"--cluster-replicas", "1", "--cluster-yes"});
    const pid_t cli = spawn_process(create, root_ / "create.log");
    int status = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (::waitpid(cli, &status, WNOHANG) != cli) {
      if (Clock::now() > deadline) {
        ::kill(cli, SIGKILL);
        ::waitpid(cli, &status, 0);
        throw std::runtime_error("redis-cli --cluster create timed out");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("redis-cli --cluster create failed");
    wait_ok();
  } catch (...) {
    stop_all();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    throw;
  }
}

RedisCluster::~RedisCluster() {
  stop_all();
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

void RedisCluster::spawn(Node& node, const std::vector<std::string>& extra_args) {
  std::vector<std::string> args{kServer,
                                "--port",
                                std::to_string(node.port),
                                "--bind",
                                "127.0.0.1",
                                "--dir",
                                node.dir.string(),
                                "--cluster-enabled",
                                "yes",
                                "--cluster-config-file",
                                (node.dir / "nodes.conf").string(),
                                "--cluster-node-timeout",
                                "1000",
                                "--appendonly",
                                "no",
                                "--save",
                                "",
                                "--daemonize",
                                "no",
                                "--logfile",
                                (node.dir / "redis.log").string()};
  if (!password_.empty()) args.insert(args.end(), {"--requirepass", password_, "--masterauth", password_});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  node.pid = spawn_process(args, node.dir / "stdout.log");
}

void RedisCluster::stop_all() {
  for (auto& node : nodes_) {
    if (node.pid <= 0) continue;
    ::kill(node.pid, SIGKILL);
    int status = 0;
    ::waitpid(node.pid, &status, 0);
    node.pid = -1;
  }
}

std::vector<std::string> RedisCluster::seeds() const {
  std::vector<std::string> out;
  for (const auto& node : nodes_)
    out.push_back("127.0.0.1:" + std::to_string(node.port));
  return out;
}

redis::Reply RedisCluster::command(std::size_t i, const std::vector<std::string>& args) const {
  auto reply = blocking_command(nodes_[i].port, args, password_);
  if (!reply)
    throw std::runtime_error("redis cluster node " + std::to_string(nodes_[i].port) + " did not answer");
  return *reply;
}

std::size_t RedisCluster::index_of(const redis::cluster::NodeAddress& address) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].port == address.port) return i;
  }
  return nodes_.size();
}

redis::cluster::SlotMap RedisCluster::slot_map() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running(i)) continue;
    auto reply = blocking_command(nodes_[i].port, {"CLUSTER", "SHARDS"}, password_);
    if (!reply) continue;
    if (auto map = redis::cluster::parse_cluster_shards(*reply, false, "127.0.0.1"); map) return *map;
  }
  throw std::runtime_error("no slot map from the redis cluster");
}

std::size_t RedisCluster::primary_of_slot(std::uint16_t slot) const {
  const auto map = slot_map();
  const auto* node = map.node_for(slot);
  if (node == nullptr) throw std::runtime_error("slot not served");
  return index_of(*node);
}

bool RedisCluster::is_primary(std::size_t i) const {
  const auto role = command(i, {"ROLE"});
  return role.is_array() && !role.elements.empty() && role.elements[0].str == "master";
}

std::size_t RedisCluster::replica_of(std::size_t primary) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i == primary || !running(i)) continue;
    const auto role = command(i, {"ROLE"});
    if (role.is_array() && role.elements.size() >= 3 && role.elements[0].str == "slave" &&
        role.elements[2].integer == nodes_[primary].port) {
      return i;
    }
  }
  throw std::runtime_error("no replica of that primary");
}

std::string RedisCluster::node_id(std::size_t i) const {
  return command(i, {"CLUSTER", "MYID"}).str;
}

void RedisCluster::kill(std::size_t i) {
  if (nodes_[i].pid <= 0) return;
  ::kill(nodes_[i].pid, SIGKILL);
  int status = 0;
  ::waitpid(nodes_[i].pid, &status, 0);
  nodes_[i].pid = -1;
}

namespace {
std::int64_t info_field(const std::string& info, const std::string& name) {
  const auto at = info.find(name + ":");
  if (at == std::string::npos) return -1;
  return std::strtoll(info.c_str() + at + name.size() + 1, nullptr, 10);
}
}  // namespace

void RedisCluster::wait_replicated(std::size_t replica, std::chrono::milliseconds timeout) const {
  const auto role = command(replica, {"ROLE"});
  if (!role.is_array() || role.elements.size() < 3) throw std::runtime_error("not a replica");
  const std::size_t primary = index_of({"127.0.0.1", static_cast<std::uint16_t>(role.elements[2].integer)});
  if (primary >= nodes_.size()) throw std::runtime_error("unknown primary");
  const auto target = info_field(command(primary, {"INFO", "replication"}).str, "master_repl_offset");
  const auto deadline = Clock::now() + timeout;
  while (info_field(command(replica, {"INFO", "replication"}).str, "slave_repl_offset") < target) {
    if (Clock::now() > deadline) throw std::runtime_error("the replica did not catch up in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void RedisCluster::failover(std::size_t replica) {
  command(replica, {"CLUSTER", "FAILOVER"});
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!is_primary(replica)) {
    if (Clock::now() > deadline) throw std::runtime_error("CLUSTER FAILOVER did not complete");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  wait_ok();
}

void RedisCluster::start_migration(std::uint16_t slot, std::size_t to) {
  const std::size_t from = primary_of_slot(slot);
  const std::string s = std::to_string(slot);
  command(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)});
  command(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)});
}

void RedisCluster::migrate_key(const std::string& key, std::size_t to) {
  const std::size_t from = primary_of_slot(redis::cluster::key_slot(key));
  std::vector<std::string> args{"MIGRATE", "127.0.0.1", std::to_string(nodes_[to].port), key, "0", "5000"};
  if (!password_.empty()) args.insert(args.end(), {"AUTH", password_});
  const auto r = command(from, args);
  if (r.is_error()) throw std::runtime_error("MIGRATE failed: " + r.str);
}

void RedisCluster::move_slot(std::uint16_t slot, std::size_t to) {
  const std::size_t from = primary_of_slot(slot);
  const std::string s = std::to_string(slot);
  start_migration(slot, to);
  for (;;) {
    const auto keys = command(from, {"CLUSTER", "GETKEYSINSLOT", s, "100"});
    if (!keys.is_array() || keys.elements.empty()) break;
    for (const auto& k : keys.elements)
      migrate_key(k.str, to);
  }
  const std::string to_id = node_id(to);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (running(i)) command(i, {"CLUSTER", "SETSLOT", s, "NODE", to_id});
  }
  wait_ok();
}

void RedisCluster::wait_ok(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (!all_ok()) {
    if (Clock::now() > deadline) throw std::runtime_error("the redis cluster is not ok in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool RedisCluster::all_ok() const {
  std::optional<std::vector<std::uint16_t>> agreed;  // the primaries' ports, as every node sees them
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running(i)) continue;
    const auto info = blocking_command(nodes_[i].port, {"CLUSTER", "INFO"}, password_);
    if (!info || info->str.find("cluster_state:ok") == std::string::npos) return false;
    const auto repl = blocking_command(nodes_[i].port, {"INFO", "replication"}, password_);
    if (!repl || (repl->str.find("role:master") == std::string::npos &&
                  repl->str.find("master_link_status:up") == std::string::npos)) {
      return false;
    }
    const auto shards = blocking_command(nodes_[i].port, {"CLUSTER", "SHARDS"}, password_);
    const auto map =
        shards ? redis::cluster::parse_cluster_shards(*shards, false, "127.0.0.1") : std::nullopt;
    if (!map || map->covered() != redis::cluster::kSlots) return false;
    std::vector<std::uint16_t> ports;
    for (const auto& p : map->primaries())
      ports.push_back(p.port);
    std::sort(ports.begin(), ports.end());
    if (agreed && *agreed != ports) return false;
    agreed = std::move(ports);
  }
  return true;
}

}  // namespace sig::test
