// Fuzz target: admin API requests (method, target, authorization, body) against a real Hub on a
// manual clock. Every request gets exactly one answer, never an exception, and every answer is
// valid UTF-8 (a JSON answer is valid JSON). Several requests per input, so a session created by
// one is read, started, changed and deleted by the next ones.
//
// Input: requests separated by NUL bytes, at most 8; each request is
//   <method>\n<target>\n<authorization line>\n<body>
// where the authorization line "k" stands for the right admin key and anything else is sent as
// the Authorization header as it is. The first byte of the input, when odd, puts a shared store
// in front (AdminApi::handle's several-node path) that refuses writes when its bit 1 is set.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/admin_api.hpp"
#include "auth/jwt.hpp"
#include "common/utf8.hpp"
#include "domain/clock.hpp"
#include "domain/hub.hpp"

namespace {

constexpr std::string_view kKey = "k3y";

class FakeStore final : public sig::domain::ClusterPort {
 public:
  explicit FakeStore(bool refuse) : refuse_(refuse) {}
  void join(std::string, sig::domain::Identity, std::string, std::weak_ptr<sig::domain::Endpoint>,
            sig::domain::ResumeRequest, JoinDone) override {}
  std::uint64_t relay_epoch() const override { return 0; }
  void relay(std::string_view, std::string_view, std::string_view, sig::domain::Payload,
             std::uint64_t) override {}
  void refresh(std::string, std::function<void(bool)> done) override { done(true); }
  std::uint64_t write_mark() const override { return 0; }
  void flush(std::uint64_t, std::function<void(bool)> done) override { done(!refuse_); }

 private:
  bool refuse_;
};

std::string_view line(std::string_view& in) {
  const auto nl = in.find('\n');
  const auto out = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const auto signer = sig::auth::Signer::hmac(sig::auth::Algorithm::HS256, "fuzz");
  sig::domain::ManualClock clock;
  sig::domain::Hub hub(clock, sig::domain::SessionSettings{});
  sig::app::AdminApi api(
      hub, std::string(kKey), [] { return std::string("m 1\n"); }, sig::app::DevMode{&signer, "demo"});
  api.set_ready(true);
  std::optional<FakeStore> store;
  if (!input.empty() && (static_cast<unsigned char>(input[0]) & 1U) != 0) {
    store.emplace((static_cast<unsigned char>(input[0]) & 2U) != 0);
    api.set_cluster(&*store);
  }

  for (int n = 0; n < 8 && !input.empty(); ++n) {
    const auto end = input.find('\0');
    std::string_view req = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);

    sig::net::HttpRequest request;
    request.method = std::string(line(req));
    request.target = std::string(line(req));
    const auto auth = line(req);
    request.authorization = auth == "k" ? "Bearer " + std::string(kKey) : std::string(auth);
    request.body = std::string(req);

    int answers = 0;
    sig::net::HttpResponse response;
    api.handle(std::move(request), [&](sig::net::HttpResponse r) {
      ++answers;
      response = std::move(r);
    });
    if (answers != 1) std::abort();  // exactly one answer per request
    if (response.status < 100 || response.status > 599) std::abort();
    if (!sig::utf8::valid(response.body)) std::abort();
    if (response.content_type == "application/json" && !response.body.empty() &&
        !nlohmann::json::accept(response.body)) {
      std::abort();
    }
    clock.advance(std::chrono::seconds(7));
    hub.tick(clock.now());
  }
  return 0;
}
