// Micro-benchmarks of the server's own relay path (links signaling_core): parsing and
// validating a client message with protocol::MessageParser (simdjson), and routing a relayed
// message inside a session of 4 (relay_target + relayed() + the endpoint's send).
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "domain/clock.hpp"
#include "domain/endpoint.hpp"
#include "domain/hub.hpp"
#include "protocol/client_message.hpp"
#include "protocol/server_messages.hpp"

namespace {

std::string sdp(std::size_t len) {
  std::string s = "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n";
  int i = 0;
  while (s.size() < len)
    s += "a=candidate:" + std::to_string(1000 + i++) + " 1 udp 2122260223 192.0.2.1 50000 typ host\\r\\n";
  s.resize(len);
  if (s.back() == '\\') s.back() = 'x';
  return s;
}
std::string offer(std::size_t size) {
  std::string head = R"({"type":"offer","toUserId":"user-2","sdp":")";
  const std::size_t body = size - head.size() - 2;
  head += sdp(body);
  head += "\"}";
  return head;
}
std::string candidate() {
  return R"({"type":"ice-candidate","toUserId":"user-2","candidate":{"candidate":"candidate:842163049 1 udp )"
         R"(1677729535 198.51.100.7 61665 typ srflx raddr 10.0.0.12 rport 61665 generation 0 ufrag Xk3f network-id )"
         R"(1 network-cost 10","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xk3f"}})";
}

void BM_ParseClientMessage(benchmark::State& state, std::string msg) {
  sig::protocol::MessageParser parser;
  std::string padded = msg;
  padded.append(sig::protocol::MessageParser::kPadding, ' ');
  const std::string_view view(padded.data(), msg.size());
  sig::protocol::ClientMessage out;
  for (auto _ : state) {
    auto err = parser.parse(view, out);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(out.to_user_id.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(msg.size()));
  state.SetLabel(std::to_string(msg.size()) + " B");
}
BENCHMARK_CAPTURE(BM_ParseClientMessage, ice_candidate, candidate());
BENCHMARK_CAPTURE(BM_ParseClientMessage, offer_2k, offer(2048));
BENCHMARK_CAPTURE(BM_ParseClientMessage, offer_6k, offer(6144));

class CountingEndpoint final : public sig::domain::Endpoint {
 public:
  void send(sig::domain::Payload message) override {
    ++sent;
    benchmark::DoNotOptimize(message->data());
  }
  void close(sig::protocol::CloseCode, sig::domain::Payload) override {}
  std::atomic<std::uint64_t> sent{0};
};

// One session of 4 connected participants; each iteration routes one message from user-1 to
// user-2 the way the server's connection does: find the target, build the relayed text, send.
void BM_RelayRoute(benchmark::State& state, std::string msg) {
  sig::domain::ManualClock clock;
  sig::domain::Hub hub(clock, sig::domain::SessionSettings{});
  sig::domain::SessionSpec spec;
  spec.host_user_id = "user-1";
  for (int i = 1; i <= 4; ++i)
    spec.participants.push_back({"user-" + std::to_string(i), "User " + std::to_string(i)});
  hub.put_session("bench", spec);
  std::vector<std::shared_ptr<CountingEndpoint>> endpoints;
  std::vector<sig::domain::HubJoin> joins;
  for (int i = 1; i <= 4; ++i) {
    endpoints.push_back(std::make_shared<CountingEndpoint>());
    joins.push_back(hub.join("bench", spec.participants[static_cast<std::size_t>(i - 1)],
                             "c" + std::to_string(i), endpoints.back()));
    if (joins.back().error) {
      state.SkipWithError("join failed");
      return;
    }
  }
  const auto& from = *joins[0].participant;
  auto& session = *joins[0].session;
  for (auto _ : state) {
    const auto routed = session.relay(
        from, "user-2", sig::domain::make_payload(sig::protocol::relayed(msg, from.from_suffix())));
    if (routed.error) {
      state.SkipWithError("no relay target");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel(std::to_string(msg.size()) + " B");
}
BENCHMARK_CAPTURE(BM_RelayRoute, ice_candidate, candidate());
BENCHMARK_CAPTURE(BM_RelayRoute, offer_6k, offer(6144));

}  // namespace
