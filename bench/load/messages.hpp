#pragma once
// The messages the load tool sends, built once per process as templates with fixed-width slots
// for the send timestamp and the target's id, so a send is one copy and two small patches.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace load {

enum class Protocol { signaling, floor, peerjs };
enum class Kind { offer, answer, ice };

inline constexpr std::size_t kTsDigits = 19;
// The floor relay's frame header: u32 little-endian length of what follows, u16 member index.
inline constexpr std::size_t kFloorHeader = 6;
inline constexpr std::uint16_t kFloorEcho = 0xFFFF;

struct Template {
  std::string text;
  std::size_t ts_off = 0;  // where the 19 timestamp digits go
  std::size_t to_off = 0;  // where the target id goes (id_width characters)
};

class Templates {
 public:
  // id_width: the fixed width of every participant id of the run; sdp_sizes: sizes in bytes of
  // the whole offer/answer messages; ice_size: the size of an ice-candidate message.
  Templates(Protocol proto, std::size_t id_width, std::vector<std::size_t> sdp_sizes, std::size_t ice_size);

  // The message (for the floor, the whole frame) with the timestamp and the target patched in.
  std::string make(Kind kind, std::size_t variant, std::int64_t ts_ns, std::string_view to_id,
                   std::uint16_t to_member) const;
  std::size_t sdp_variants() const { return offers_.size(); }

 private:
  Protocol proto_;
  std::size_t id_width_;
  std::vector<Template> offers_, answers_;
  Template ice_;
};

// Extracts the 19-digit timestamp following "t":" in a relayed message; -1 when absent.
inline std::int64_t find_ts(std::string_view msg) {
  const auto pos = msg.find("\"t\":\"");
  if (pos == std::string_view::npos || pos + 5 + kTsDigits > msg.size()) return -1;
  std::int64_t v = 0;
  for (std::size_t i = pos + 5; i < pos + 5 + kTsDigits; ++i) {
    const char c = msg[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

inline void write_ts(char* out, std::int64_t ts) {
  auto v = static_cast<std::uint64_t>(ts < 0 ? 0 : ts);
  for (std::size_t i = kTsDigits; i-- > 0;) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace load
