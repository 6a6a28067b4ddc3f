// Micro-benchmarks of the signed webhooks (src/webhook/, docs/webhooks.md):
// - BM_Publish*: Publisher::publish() of one PlatformEvent, the only part that runs on the
//   domain's path (possibly under a session's mutex). The publisher's io_context runs on its own
//   thread as in the server, so the drain into the per-target queue competes for the publisher's
//   mutex as it would in production. The target is a loopback port nobody listens on: every
//   attempt is refused and retried later, the queue (limit 64) stays full and each publish makes
//   the drain drop the oldest event — the worst case, and bounded in memory. Timed in batches of
//   64 publishes (kBatch below): mean per event = 1 / items_per_second; the counters give the
//   median and p99 batch divided by 64.
// - BM_Envelope*, BM_Sign, BM_EnvelopeAndSign: the pure work of one attempt (envelope.hpp,
//   signing.hpp), done on the sender's strand, never on the domain's path.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/log.hpp"
#include "domain/events.hpp"
#include "webhook/envelope.hpp"
#include "webhook/publisher.hpp"
#include "webhook/signing.hpp"

namespace {

namespace asio = boost::asio;
using sig::domain::AttendanceRecord;
using sig::domain::EventType;
using sig::domain::LeftReason;
using sig::domain::PlatformEvent;

// 32 bytes of key, as the spec recommends (24..64).
const char* const kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA=";

std::string key() {
  auto k = sig::webhook::parse_secret(kSecret);
  return k ? *k : std::string(32, 'k');
}

PlatformEvent joined_event() {
  PlatformEvent e;
  e.type = EventType::participant_joined;
  e.session_id = "sess-7f3a9c2e-41b8-4d0e-9a55-0c1d2e3f4a5b";
  e.at = std::chrono::system_clock::now();
  e.user_id = "user-42";
  e.display_name = "Alice Example";
  return e;
}

// session.ended of a session of 4, each with its attendance record.
PlatformEvent ended_event() {
  PlatformEvent e;
  e.type = EventType::session_ended;
  e.session_id = "sess-7f3a9c2e-41b8-4d0e-9a55-0c1d2e3f4a5b";
  const auto now = std::chrono::system_clock::now();
  e.at = now;
  e.end_reason = "completed";
  e.started_at = now - std::chrono::minutes(42);
  e.ended_at = now;
  for (int i = 0; i < 4; ++i) {
    AttendanceRecord r;
    r.user_id = "user-" + std::to_string(40 + i);
    r.display_name = "Participant " + std::to_string(i);
    r.first_joined = now - std::chrono::minutes(41);
    r.last_left = now;
    r.connections = 2;
    r.connected = std::chrono::milliseconds(2'460'123);
    e.attendance.push_back(std::move(r));
  }
  return e;
}

// A loopback port that was free a moment ago: connecting to it is refused.
unsigned short closed_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// The dispatcher logs a warning per dropped event; the lines are formatted on the sender's
// thread and discarded here so that the benchmark's output stays readable.
void quiet_logs() {
  sig::log::set_sink([](std::string_view) {});
}

// Events published per timed batch. Between batches (not timed) the benchmark waits until the
// sender has drained them into the target's queue: publish() itself only appends to an inbox
// that has no bound of its own (the queue limit applies when the sender's strand drains it), so
// an unpaced loop, millions of publishes per second, would only measure a growing vector.
constexpr int kBatch = 64;
constexpr std::size_t kQueueLimit = 64;

// threaded: the sender's io_context runs on another thread (a server with several threads: each
// publish may wake it, a system call); otherwise the io_context is polled by this thread between
// batches, as in a one-thread server where the domain and the sender share the thread.
void run_publish(benchmark::State& state, const PlatformEvent& event, bool with_target, bool threaded) {
  quiet_logs();
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread sender;
  if (threaded) sender = std::thread([&io] { io.run(); });
  {
    sig::webhook::Settings s;
    if (with_target) s.urls.push_back("http://127.0.0.1:" + std::to_string(closed_port()) + "/hook");
    s.key = key();
    s.queue_limit = kQueueLimit;
    sig::webhook::Publisher publisher(io, s);
    std::vector<double> batches;  // seconds per batch: the median resists the machine's preemptions
    for (auto _ : state) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kBatch; ++i)
        publisher.publish(event);  // the copy is part of the cost: the domain hands over a value
      const auto t1 = std::chrono::steady_clock::now();
      state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
      batches.push_back(std::chrono::duration<double>(t1 - t0).count());
      const auto deadline = t1 + std::chrono::seconds(2);
      while (publisher.outstanding() > kQueueLimit) {
        if (std::chrono::steady_clock::now() > deadline) {
          state.SkipWithError("the sender did not drain the inbox within 2 s");
          break;
        }
        if (threaded) {
          std::this_thread::yield();
        } else {
          io.poll();
        }
      }
    }
    if (!batches.empty()) {
      std::sort(batches.begin(), batches.end());
      state.counters["median_ns_per_event"] = batches[batches.size() / 2] * 1e9 / kBatch;
      state.counters["p99_ns_per_event"] = batches[batches.size() * 99 / 100] * 1e9 / kBatch;
    }
    state.counters["dropped"] = static_cast<double>(publisher.stats().dropped.load());
    state.SetItemsProcessed(state.iterations() * kBatch);
  }
  guard.reset();
  io.stop();
  if (sender.joinable()) sender.join();
}

// The copy of the event alone, to read the publish figures against.
void BM_CopyEvent(benchmark::State& state) {
  const auto event = joined_event();
  for (auto _ : state) {
    PlatformEvent copy = event;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyEvent);

void BM_CopyEndedEvent4(benchmark::State& state) {
  const auto event = ended_event();
  for (auto _ : state) {
    PlatformEvent copy = event;
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyEndedEvent4);

void BM_PublishNoTarget(benchmark::State& state) {
  run_publish(state, joined_event(), false, false);
}
BENCHMARK(BM_PublishNoTarget)->UseManualTime();

// Arg 0: the io_context polled by this thread between batches; 1: run by another thread.
void BM_PublishRefusedQueueFull(benchmark::State& state) {
  run_publish(state, joined_event(), true, state.range(0) != 0);
}
BENCHMARK(BM_PublishRefusedQueueFull)->Arg(0)->Arg(1)->UseManualTime();

void BM_PublishEndedRefusedQueueFull(benchmark::State& state) {
  run_publish(state, ended_event(), true, state.range(0) != 0);
}
BENCHMARK(BM_PublishEndedRefusedQueueFull)->Arg(0)->Arg(1)->UseManualTime();

void BM_EnvelopeJoined(benchmark::State& state) {
  const auto event = joined_event();
  for (auto _ : state)
    benchmark::DoNotOptimize(sig::webhook::envelope_json(event));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeJoined);

void BM_EnvelopeEnded4(benchmark::State& state) {
  const auto event = ended_event();
  for (auto _ : state)
    benchmark::DoNotOptimize(sig::webhook::envelope_json(event));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeEnded4);

void BM_Sign(benchmark::State& state) {
  const auto k = key();
  const auto body = sig::webhook::envelope_json(joined_event());
  const std::string id = "msg_2KWPBgLlAfxdpx2AI54pPJ85";
  for (auto _ : state)
    benchmark::DoNotOptimize(sig::webhook::sign(k, id, 1'800'000'000, body));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Sign);

// What one attempt of one event costs before the HTTP exchange: id, body, signature.
void BM_EnvelopeAndSign(benchmark::State& state) {
  const auto k = key();
  const auto event = joined_event();
  for (auto _ : state) {
    const auto id = sig::webhook::new_message_id();
    const auto body = sig::webhook::envelope_json(event);
    benchmark::DoNotOptimize(sig::webhook::sign(k, id, 1'800'000'000, body));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnvelopeAndSign);

}  // namespace
