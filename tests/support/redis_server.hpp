#pragma once
// Test helper: runs Debian's /usr/bin/redis-server on 127.0.0.1 at a free port, in a temporary
// directory, without persistence. start() waits (bounded) until PING answers; stop() sends
// SIGTERM then SIGKILL; the destructor stops it and removes the directory. stop() + start()
// restarts it on the same port (reconnect tests); pause()/resume() freeze it (SIGSTOP/SIGCONT)
// for timeout tests. Failures throw std::runtime_error (tests only).
// With RedisTls it listens with TLS only (--port 0 --tls-port N; certificates from
// tests/support/test_pki.hpp), and PING is checked over TLS.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

extern char** environ;  // NOLINT

namespace sig::test {

// A blocking TCP connection to 127.0.0.1:`port` with `timeout` on each send and receive; -1 on
// failure.
inline int connect_loopback(std::uint16_t port, std::chrono::microseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1'000'000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {  // NOLINT
    ::close(fd);
    return -1;
  }
  return fd;
}

// A TLS-only redis-server's files.
struct RedisTls {
  std::string cert_file;  // the server's certificate and key
  std::string key_file;
  std::string ca_file;          // trusted for client certificates
  bool auth_clients = false;    // --tls-auth-clients yes: a client certificate is required
  std::string probe_cert_file;  // the PING probe's client certificate (when auth_clients)
  std::string probe_key_file;
};

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  static bool available() { return ::access(kBinary, X_OK) == 0; }

  // extra_args are appended to the command line, e.g. {"--requirepass", "secret"}.
  explicit RedisServer(std::vector<std::string> extra_args = {}) : extra_args_(std::move(extra_args)) {
    init();
  }

  // TLS only.
  explicit RedisServer(RedisTls tls, std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)), tls_(std::move(tls)) {
    init();
  }

  // Other TLS files for the next start() (e.g. another certificate after stop()).
  void set_tls(RedisTls tls) { tls_ = std::move(tls); }
  bool tls() const { return tls_.has_value(); }

  ~RedisServer() {
    try {
      stop();
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // redis[s]://[:password@]127.0.0.1:port[/db] (rediss:// for a TLS server)
  std::string url(const std::string& password = {}, int db = -1) const {
    std::string u = tls_ ? "rediss://" : "redis://";
    if (!password.empty()) u += ":" + password + "@";
    u += "127.0.0.1:" + std::to_string(port_);
    if (db >= 0) u += "/" + std::to_string(db);
    return u;
  }
  std::string log() const {
    std::ifstream in(dir_ / "redis.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void start(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (running()) return;
    std::vector<std::string> args = {kBinary,  "--port",       std::to_string(port_),
                                     "--bind", "127.0.0.1",    "--save",
                                     "",       "--appendonly", "no",
                                     "--dir",  dir_.string(),  "--daemonize",
                                     "no",     "--logfile",    (dir_ / "redis.log").string()};
    if (tls_) {
      args[2] = "0";  // no plain TCP port
      args.insert(args.end(), {"--tls-port", std::to_string(port_), "--tls-cert-file", tls_->cert_file,
                               "--tls-key-file", tls_->key_file, "--tls-ca-cert-file", tls_->ca_file,
                               "--tls-auth-clients", tls_->auth_clients ? "yes" : "no"});
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawn(&pid, kBinary, nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("posix_spawn redis-server failed");
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ping()) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start-up:\n" + log());
      }
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("redis-server did not answer PING in time:\n" + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // SIGTERM, then SIGKILL after `grace`. Waits for the process.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    if (!running()) return;
    ::kill(pid_, SIGCONT);  // in case it is paused
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  // SIGKILL at once (a crash).
  void kill() {
    if (!running()) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  void pause() {
    if (running()) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (running()) ::kill(pid_, SIGCONT);
  }

  // One blocking PING (500 ms timeouts), over TLS for a TLS server. NOAUTH counts as alive
  // (--requirepass servers).
  bool ping() const {
    if (tls_) return tls_ping();
    const int fd = connect_probe();
    if (fd < 0) return false;
    bool ok = false;
    static constexpr char kPing[] = "PING\r\n";
    if (::send(fd, kPing, sizeof kPing - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof kPing - 1)) {
      char buf[64] = {};
      const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
      ok = alive_reply(buf, n);
    }
    ::close(fd);
    return ok;
  }

  // PONG, or NOAUTH from a --requirepass server: alive either way.
  static bool alive_reply(const char* buf, std::int64_t n) {
    const std::string_view reply(buf, n > 0 ? static_cast<std::size_t>(n) : 0U);
    return reply.starts_with("+PONG") || reply.starts_with("-NOAUTH");
  }

  // A blocking TCP connection to the server with 500 ms send/receive timeouts; -1 on failure.
  int connect_probe() const { return connect_loopback(port_, std::chrono::milliseconds(500)); }

  bool tls_ping() const {
    const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                                &SSL_CTX_free);
    if (!ctx) return false;
    // A readiness probe: it does not verify the server (which may present an untrusted
    // certificate on purpose).
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    if (!tls_->probe_cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx.get(), tls_->probe_cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx.get(), tls_->probe_key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return false;
    }
    const int fd = connect_probe();
    if (fd < 0) return false;
    bool ok = false;
    const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
    if (ssl && SSL_set_fd(ssl.get(), fd) == 1 && SSL_connect(ssl.get()) == 1) {
      static constexpr char kPing[] = "PING\r\n";
      if (SSL_write(ssl.get(), kPing, sizeof kPing - 1) == static_cast<int>(sizeof kPing - 1)) {
        char buf[64] = {};
        const int n = SSL_read(ssl.get(), buf, sizeof buf - 1);
        ok = alive_reply(buf, n);
      }
      SSL_shutdown(ssl.get());
    }
    ::close(fd);
    return ok;
  }

  // A port that was free a moment ago on 127.0.0.1.
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||  // NOLINT
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {        // NOLINT
      ::close(fd);
      throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  void init() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sig-redis-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = free_port();
    start();
  }

  std::vector<std::string> extra_args_;
  std::optional<RedisTls> tls_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sig::test
