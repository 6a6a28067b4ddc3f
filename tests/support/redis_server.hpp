#pragma once
// Test helper: runs Debian's /usr/bin/redis-server on 127.0.0.1 at a free port, in a temporary
// directory, without persistence. start() waits (bounded) until PING answers; stop() sends
// SIGTERM then SIGKILL; the destructor stops it and removes the directory. stop() + start()
// restarts it on the same port (reconnect tests); pause()/resume() freeze it (SIGSTOP/SIGCONT)
// for timeout tests. Failures throw std::runtime_error (tests only).

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
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT

namespace sig::test {

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  static bool available() { return ::access(kBinary, X_OK) == 0; }

  // extra_args are appended to the command line, e.g. {"--requirepass", "secret"}.
  explicit RedisServer(std::vector<std::string> extra_args = {}) : extra_args_(std::move(extra_args)) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sig-redis-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = free_port();
    start();
  }

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
  // redis://[:password@]127.0.0.1:port[/db]
  std::string url(const std::string& password = {}, int db = -1) const {
    std::string u = "redis://";
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

  // One blocking PING (500 ms timeouts). NOAUTH counts as alive (--requirepass servers).
  bool ping() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    timeval tv{};
    tv.tv_usec = 500000;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {  // NOLINT
      static constexpr char kPing[] = "PING\r\n";
      if (::send(fd, kPing, sizeof kPing - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof kPing - 1)) {
        char buf[64] = {};
        const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
        const std::string reply(buf, n > 0 ? static_cast<std::size_t>(n) : 0U);
        ok = reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
      }
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
  std::vector<std::string> extra_args_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sig::test
