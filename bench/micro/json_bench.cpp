// Standalone micro-benchmarks of what the relay path costs per message, independent of the
// server's code: parsing and validating an offer / ice-candidate with simdjson (on-demand, as the
// server does) and with nlohmann::json (for scale), and appending "fromUserId" to the raw text.
#include <benchmark/benchmark.h>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace {

std::string make_sdp(std::size_t len) {
  std::string s = "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n";
  int i = 0;
  while (s.size() < len)
    s += "a=candidate:" + std::to_string(1000 + i++) + " 1 udp 2122260223 192.0.2.1 50000 typ host\\r\\n";
  s.resize(len);
  if (s.back() == '\\') s.back() = 'x';
  return s;
}

std::string offer(std::size_t size) {
  const std::string head = R"({"type":"offer","toUserId":"user-000002","sdp":")";
  return head + make_sdp(size - head.size() - 2) + "\"}";
}

std::string candidate() {
  return R"({"type":"ice-candidate","toUserId":"user-000002","candidate":{"candidate":"candidate:842163049 1 udp )"
         R"(1677729535 198.51.100.7 61665 typ srflx raddr 10.0.0.12 rport 61665 generation 0 ufrag Xk3f network-id )"
         R"(1 network-cost 10","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xk3f"}})";
}

// What the server must check: an object, a string type, a non-empty string toUserId, an sdp
// string (offer/answer) or a candidate object, and no fromUserId.
bool validate_simdjson(simdjson::ondemand::parser& parser, const simdjson::padded_string& text) {
  simdjson::ondemand::document doc;
  if (parser.iterate(text).get(doc)) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return false;
  std::string_view type, to;
  bool has_body = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "type") {
      if (field.value().get_string().get(type)) return false;
    } else if (key == "toUserId") {
      if (field.value().get_string().get(to)) return false;
    } else if (key == "sdp") {
      std::string_view sdp;
      if (field.value().get_string().get(sdp)) return false;
      has_body = true;
    } else if (key == "candidate") {
      simdjson::ondemand::object c;
      if (field.value().get_object().get(c)) return false;
      has_body = true;
    } else if (key == "fromUserId") {
      return false;
    }
  }
  return !type.empty() && !to.empty() && has_body;
}

void BM_SimdjsonValidate(benchmark::State& state, std::string msg) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string text(msg);
  for (auto _ : state)
    benchmark::DoNotOptimize(validate_simdjson(parser, text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(msg.size()));
  state.SetLabel(std::to_string(msg.size()) + " B");
}

void BM_NlohmannValidate(benchmark::State& state, std::string msg) {
  for (auto _ : state) {
    auto j = nlohmann::json::parse(msg, nullptr, false);
    bool ok =
        j.is_object() && j["type"].is_string() && j["toUserId"].is_string() && !j.contains("fromUserId");
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(msg.size()));
  state.SetLabel(std::to_string(msg.size()) + " B");
}

// The relay's output: the sender's bytes with ,"fromUserId":"..." spliced before the final '}'.
void BM_AppendFromUserId(benchmark::State& state, std::string msg) {
  const std::string from = "user-000001";
  for (auto _ : state) {
    std::string out;
    out.reserve(msg.size() + from.size() + 16);
    out.append(msg, 0, msg.size() - 1);
    out += R"(,"fromUserId":")";
    out += from;
    out += "\"}";
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(msg.size()));
}

BENCHMARK_CAPTURE(BM_SimdjsonValidate, ice_candidate, candidate());
BENCHMARK_CAPTURE(BM_SimdjsonValidate, offer_2k, offer(2048));
BENCHMARK_CAPTURE(BM_SimdjsonValidate, offer_6k, offer(6144));
BENCHMARK_CAPTURE(BM_NlohmannValidate, ice_candidate, candidate());
BENCHMARK_CAPTURE(BM_NlohmannValidate, offer_6k, offer(6144));
BENCHMARK_CAPTURE(BM_AppendFromUserId, offer_6k, offer(6144));

}  // namespace
