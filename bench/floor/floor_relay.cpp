// floor-relay: the least a relay can do, to give the signaling server's figures a floor.
//
// Plain TCP, no WebSocket, no JSON, no authentication. A client sends one line
// "JOIN <group> <member>\n" and gets "OK\n"; then it sends frames
//   u32 little-endian length of what follows | u16 little-endian destination member | payload
// and the relay forwards each frame to that member of the same group with the destination
// replaced by the sender's member index (destination 0xFFFF: echoed back to the sender, for
// heartbeats). Frames to a member that is not connected are dropped.
// An idle connection costs no buffer: it waits for readability and reads into a per-thread
// scratch buffer, keeping only the start of an incomplete frame; its write queue is a vector,
// which allocates nothing while empty.
//
// Usage: floor-relay [--listen 127.0.0.1] [--port 0] [--threads 1]
// Prints {"msg":"listening","port":N} on stdout once it accepts connections.

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>

#include <CLI/CLI.hpp>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kHeader = 6;
constexpr std::uint16_t kEcho = 0xFFFF;
constexpr std::size_t kMaxMembers = 64;
constexpr std::size_t kMaxFrame = 1 << 17;
constexpr std::size_t kScratch = 1 << 20;  // per thread; holds a pending frame plus one read
constexpr std::size_t kMaxQueue = 4096;    // frames queued to one slow reader before it is dropped

class Conn;

struct Group {
  std::mutex mu;
  std::vector<std::weak_ptr<Conn>> members = std::vector<std::weak_ptr<Conn>>(kMaxMembers);
};

class Registry {
 public:
  std::shared_ptr<Group> get(const std::string& id) {
    std::lock_guard lock(mu_);
    auto& g = groups_[id];
    if (!g) g = std::make_shared<Group>();
    return g;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Group>> groups_;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(tcp::socket s, Registry& r) : sock_(std::move(s)), registry_(r) {}

  void start() {
    error_code ec;
    sock_.set_option(tcp::no_delay(true), ec);
    sock_.non_blocking(true, ec);
    wait_readable();
  }

  // Called on this connection's executor.
  void deliver(std::string frame) {
    if (closed_) return;
    if (queue_.size() >= kMaxQueue) return close();
    queue_.push_back(std::move(frame));
    if (!writing_) write();
  }

  asio::any_io_executor executor() { return sock_.get_executor(); }

 private:
  // An idle connection holds no buffer: it waits for readability, then reads into the thread's
  // scratch buffer; only the tail of an incomplete frame is kept (pending_).
  void wait_readable() {
    sock_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](error_code ec) { self->on_readable(ec); });
  }

  void on_readable(error_code ec) {
    if (ec) return close();
    thread_local std::vector<char> scratch(kScratch);
    std::size_t have = pending_.size();
    if (have) std::memcpy(scratch.data(), pending_.data(), have);
    std::string().swap(pending_);
    const std::size_t n = sock_.read_some(asio::buffer(scratch.data() + have, scratch.size() - have), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      pending_.assign(scratch.data(), have);
      return wait_readable();
    }
    if (ec) return close();
    have += n;
    std::size_t beg = 0;
    for (;;) {
      const std::size_t avail = have - beg;
      const char* p = scratch.data() + beg;
      if (!group_) {
        const void* nl = std::memchr(p, '\n', avail);
        if (!nl) {
          if (avail > 256) return close();
          break;
        }
        const std::string line(p, static_cast<std::size_t>(static_cast<const char*>(nl) - p));
        beg += line.size() + 1;
        char gid[128];
        unsigned member = 0;
        if (std::sscanf(line.c_str(), "JOIN %127s %u", gid, &member) != 2 || member >= kMaxMembers)
          return close();
        member_ = static_cast<std::uint16_t>(member);
        group_ = registry_.get(gid);
        {
          std::lock_guard lock(group_->mu);
          group_->members[member_] = weak_from_this();
        }
        deliver("OK\n");
        continue;
      }
      if (avail < kHeader) break;
      std::uint32_t len = 0;
      std::memcpy(&len, p, 4);
      if (len < 2 || len > kMaxFrame) return close();
      const std::size_t frame = 4 + std::size_t{len};
      if (avail < frame) break;
      std::uint16_t dst = 0;
      std::memcpy(&dst, p + 4, 2);
      std::string out(p, frame);
      beg += frame;
      if (dst == kEcho) {
        deliver(std::move(out));
        continue;
      }
      std::memcpy(out.data() + 4, &member_, 2);
      std::shared_ptr<Conn> to;
      if (dst < kMaxMembers) {
        std::lock_guard lock(group_->mu);
        to = group_->members[dst].lock();
      }
      if (!to) continue;
      if (to->executor() == executor()) {
        to->deliver(std::move(out));
      } else {
        asio::post(to->executor(), [to, f = std::move(out)]() mutable { to->deliver(std::move(f)); });
      }
    }
    if (closed_) return;
    if (beg < have) pending_.assign(scratch.data() + beg, have - beg);
    wait_readable();
  }

  void write() {
    if (queue_.empty() || closed_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    inflight_.clear();
    inflight_.swap(queue_);
    bufs_.clear();
    for (const auto& s : inflight_)
      bufs_.push_back(asio::buffer(s));
    asio::async_write(sock_, bufs_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->write();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    sock_.close(ec);
    if (group_) {
      std::lock_guard lock(group_->mu);
      auto& slot = group_->members[member_];
      if (slot.lock().get() == this) slot.reset();
    }
  }

  tcp::socket sock_;
  Registry& registry_;
  std::string pending_;  // the start of a frame not yet complete
  std::shared_ptr<Group> group_;
  std::uint16_t member_ = 0;
  std::vector<std::string> queue_;     // no allocation while empty (unlike std::deque)
  std::vector<std::string> inflight_;  // being written
  std::vector<asio::const_buffer> bufs_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"floor-relay: a minimal TCP relay, the floor of the signaling benchmarks"};
  std::string listen = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t threads = 1;
  app.add_option("--listen", listen, "address to listen on");
  app.add_option("--port", port, "port (0: any free port)");
  app.add_option("--threads", threads, "I/O threads (one io_context each)");
  CLI11_PARSE(app, argc, argv);
  if (threads == 0) threads = 1;
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<asio::io_context>> ioc;
  for (std::size_t i = 0; i < threads; ++i)
    ioc.push_back(std::make_unique<asio::io_context>(1));
  Registry registry;
  tcp::acceptor acceptor(*ioc[0]);
  const tcp::endpoint ep(asio::ip::make_address(listen), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
  std::printf("{\"msg\":\"listening\",\"port\":%u,\"threads\":%zu}\n", acceptor.local_endpoint().port(),
              threads);
  std::fflush(stdout);

  std::size_t next = 0;
  std::function<void()> accept = [&] {
    auto& target = *ioc[next++ % ioc.size()];
    acceptor.async_accept(target, [&](error_code ec, tcp::socket s) {
      if (!ec) {
        auto c = std::make_shared<Conn>(std::move(s), registry);
        asio::post(c->executor(), [c] { c->start(); });
      } else if (ec == asio::error::no_descriptors) {
        std::fprintf(stderr, "floor-relay: accept: out of descriptors (RLIMIT_NOFILE)\n");
      }
      if (acceptor.is_open()) accept();
    });
  };
  accept();

  asio::signal_set signals(*ioc[0], SIGINT, SIGTERM);
  signals.async_wait([&](error_code, int) {
    for (auto& c : ioc)
      c->stop();
  });
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < ioc.size(); ++i)
    pool.emplace_back([&c = *ioc[i]] {
      auto guard = asio::make_work_guard(c);
      c.run();
    });
  ioc[0]->run();
  for (auto& c : ioc)
    c->stop();
  for (auto& t : pool)
    t.join();
  return 0;
}
