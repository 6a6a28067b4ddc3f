// Bytes -> the server's request reader (the same parser set-up and limits, net/http_limits.hpp)
// -> split_target and the routing decision, fed whole and in small pieces, for each listener
// role. Nothing may crash or throw, and the reader's buffer never exceeds the header limit.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "net/http_limits.hpp"
#include "protocol/query.hpp"

namespace {

using sig::net::RequestReader;

void run(std::string_view bytes, std::size_t piece, sig::net::ListenerRole role) {
  sig::net::HttpLimits limits;
  limits.max_header_bytes = 2048;  // small limits reach the edges with small inputs
  limits.max_body_bytes = 4096;
  RequestReader reader(limits, role);
  for (int requests = 0; requests < 16; ++requests) {
    auto status = reader.parse();
    while (status == RequestReader::Status::need_more && !bytes.empty()) {
      auto buf = reader.prepare();
      const std::size_t n = std::min({buf.size(), bytes.size(), piece});
      if (n == 0) break;
      std::memcpy(buf.data(), bytes.data(), n);
      reader.commit(n);
      bytes.remove_prefix(n);
      status = reader.parse();
      while (status == RequestReader::Status::head_done)
        status = reader.parse();
    }
    while (status == RequestReader::Status::head_done)
      status = reader.parse();
    if (reader.leftover().size() > limits.max_header_bytes) __builtin_trap();
    if (status == RequestReader::Status::need_more) status = reader.parse_eof();
    if (status != RequestReader::Status::complete) return;
    auto& req = reader.request();
    const auto target =
        sig::protocol::split_target(std::string_view(req.target().data(), req.target().size()));
    const auto route = sig::net::route_for(target.path, false, role);
    if (req.body().size() > sig::net::body_limit_for(reader.route(), limits) &&
        !(route == sig::net::Route::admin_api && req.body().size() <= limits.max_body_bytes))
      __builtin_trap();
    (void)sig::protocol::query_param(target.query, "token");
    reader.reset();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  run(bytes, size + 1, sig::net::ListenerRole::combined);
  // In pieces, as reads bring them (byte by byte only for short inputs: it is slow).
  run(bytes, size <= 512 ? 1 : 61, sig::net::ListenerRole::public_only);
  run(bytes, 7, sig::net::ListenerRole::admin_only);
  return 0;
}
