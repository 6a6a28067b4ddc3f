// End-to-end throughput of the signed webhooks: N platform events published at once to a
// webhook::Publisher whose target is a local HTTP receiver answering 200, spread round-robin over
// S sessions (per-session order: one event out per session; at most 16 out per target).
// Measures, from the first publish to the last delivery: events delivered per second, and the
// CPU time (getrusage, user + system) of this process per event — the sender only: the receiver
// runs in a child process (a blocking Beast server, tests/support/http_test_server.hpp), whose
// CPU is reported apart (wait4).
// Bounded: N events per configuration, each configuration given up after --timeout seconds.
// Prints one JSON line per configuration.
//   webhook-e2e [--events N] [--sessions 1,10,100] [--timeout 60]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/log.hpp"
#include "domain/events.hpp"
#include "support/http_test_server.hpp"
#include "webhook/publisher.hpp"
#include "webhook/signing.hpp"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

double cpu_seconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double self_cpu() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return cpu_seconds(r);
}

struct Receiver {
  pid_t pid = -1;
  int stop_fd = -1;  // closing it ends the child
  unsigned short port = 0;
};

// Forked before this process starts any thread of its own for the configuration: the child
// serves until the parent closes its pipe, then exits without cleanup.
Receiver start_receiver() {
  int port_pipe[2];
  int stop_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(stop_pipe) != 0) throw std::runtime_error("cannot start the receiver");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("cannot start the receiver");
  if (pid == 0) {
    close(port_pipe[0]);
    close(stop_pipe[1]);
    sig::test::HttpTestServer server(
        [](const sig::test::HttpTestServer::Request&) { return sig::test::HttpTestServer::Reply{}; });
    const unsigned short port = server.port();
    if (write(port_pipe[1], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) _exit(3);
    char c = 0;
    while (read(stop_pipe[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  close(port_pipe[1]);
  close(stop_pipe[0]);
  Receiver r;
  r.pid = pid;
  r.stop_fd = stop_pipe[1];
  if (read(port_pipe[0], &r.port, sizeof r.port) != static_cast<ssize_t>(sizeof r.port))
    throw std::runtime_error("cannot start the receiver");
  close(port_pipe[0]);
  return r;
}

double stop_receiver(const Receiver& r) {
  close(r.stop_fd);
  int status = 0;
  rusage ru{};
  wait4(r.pid, &status, 0, &ru);
  return cpu_seconds(ru);
}

void run(int events, int sessions, int timeout_s) {
  const Receiver receiver = start_receiver();
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread sender([&io] { io.run(); });

  sig::webhook::Settings s;
  s.urls.push_back("http://127.0.0.1:" + std::to_string(receiver.port) + "/hook");
  s.key = *sig::webhook::parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA=");
  s.queue_limit = static_cast<std::size_t>(events);  // nothing dropped: every event is delivered
  auto publisher = std::make_unique<sig::webhook::Publisher>(io, s);

  std::vector<sig::domain::PlatformEvent> batch;
  batch.reserve(static_cast<std::size_t>(events));
  for (int i = 0; i < events; ++i) {
    sig::domain::PlatformEvent e;
    e.type = sig::domain::EventType::participant_joined;
    e.session_id = "sess-" + std::to_string(i % sessions);
    e.at = std::chrono::system_clock::now();
    e.user_id = "user-" + std::to_string(i);
    e.display_name = "Participant " + std::to_string(i);
    batch.push_back(std::move(e));
  }

  const auto& stats = publisher->stats();
  const double cpu0 = self_cpu();
  const auto t0 = Clock::now();
  for (auto& e : batch)
    publisher->publish(std::move(e));
  const auto deadline = t0 + std::chrono::seconds(timeout_s);
  while (stats.delivered.load() + stats.failed.load() < static_cast<std::uint64_t>(events) &&
         Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto t1 = Clock::now();
  const double cpu1 = self_cpu();
  const std::uint64_t delivered = stats.delivered.load();
  const std::uint64_t retried = stats.retried.load();
  const std::uint64_t failed = stats.failed.load();

  publisher.reset();
  guard.reset();
  io.stop();
  sender.join();
  const double receiver_cpu = stop_receiver(receiver);

  const double secs = std::chrono::duration<double>(t1 - t0).count();
  // The polling main thread sleeps 1 ms at a time: its wake-ups are in the CPU figure (small).
  std::printf(
      "{\"events\":%d,\"sessions\":%d,\"delivered\":%llu,\"retried\":%llu,\"failed\":%llu,"
      "\"seconds\":%.4f,\"events_per_s\":%.1f,\"cpu_us_per_event\":%.2f,"
      "\"receiver_cpu_us_per_event\":%.2f}\n",
      events, sessions, static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(retried),
      static_cast<unsigned long long>(failed), secs, static_cast<double>(delivered) / secs,
      (cpu1 - cpu0) * 1e6 / static_cast<double>(events), receiver_cpu * 1e6 / static_cast<double>(events));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int events = 2000;
  int timeout_s = 60;
  std::vector<int> sessions{1, 10, 100};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const std::string val = argv[i + 1];
    if (opt == "--events") {
      events = std::max(1, std::atoi(val.c_str()));
    } else if (opt == "--timeout") {
      timeout_s = std::max(1, std::atoi(val.c_str()));
    } else if (opt == "--sessions") {
      sessions.clear();
      for (std::size_t pos = 0; pos < val.size();) {
        const auto comma = val.find(',', pos);
        sessions.push_back(std::max(1, std::atoi(val.substr(pos, comma - pos).c_str())));
        pos = comma == std::string::npos ? val.size() : comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: webhook-e2e [--events N] [--sessions 1,10,100] [--timeout S]\n");
      return 2;
    }
  }
  sig::log::init("warn", "text");
  try {
    for (const int s : sessions)
      run(events, s, timeout_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webhook-e2e: %s\n", e.what());
    return 1;
  }
  return 0;
}
