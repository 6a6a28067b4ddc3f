#include "messages.hpp"

#include <cstring>
#include <stdexcept>

namespace load {

namespace {

// SDP-looking text, JSON-escaped (\r\n as four characters), exactly len characters long.
std::string sdp_body(std::size_t len, std::string_view kind) {
  std::string s;
  s += "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n";
  s += "a=group:BUNDLE 0 1\\r\\na=extmap-allow-mixed\\r\\na=msid-semantic: WMS stream\\r\\n";
  s += "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\\r\\nc=IN IP4 0.0.0.0\\r\\n";
  s += "a=setup:";
  s += kind == "offer" ? "actpass" : "active";
  s += "\\r\\na=mid:0\\r\\na=ice-ufrag:Xk3f\\r\\na=ice-pwd:qg8NvWcI5xP1hJb2aR7yZ0dE\\r\\n";
  int line = 0;
  while (s.size() < len) {
    s += "a=candidate:" + std::to_string(1000 + line) + " 1 udp 2122260223 192.0.2." +
         std::to_string(line % 250) + " " + std::to_string(50000 + line) +
         " typ host generation 0 network-id 1\\r\\na=rtpmap:" + std::to_string(96 + line % 30) +
         " VP8/90000\\r\\na=rtcp-fb:96 goog-remb\\r\\n";
    ++line;
  }
  s.resize(len);
  // Never end on half of an escape sequence.
  std::size_t backslashes = 0;
  for (auto it = s.rbegin(); it != s.rend() && *it == '\\'; ++it)
    ++backslashes;
  if (backslashes % 2 == 1) s.back() = 'x';
  return s;
}

std::string candidate_text(std::size_t len) {
  std::string s =
      "candidate:842163049 1 udp 1677729535 198.51.100.7 61665 typ srflx raddr 10.0.0.12 rport 61665 "
      "generation 0 ufrag Xk3f network-id 1 network-cost 10";
  while (s.size() < len)
    s += " x";
  s.resize(len);
  return s;
}

struct Parts {
  std::string head;  // up to and including the opening quote of the timestamp
  std::string mid;   // between the timestamp and the target id
  std::string tail;  // after the target id, with `fill` characters of padding to be decided
};

}  // namespace

Templates::Templates(Protocol proto, std::size_t id_width, std::vector<std::size_t> sdp_sizes,
                     std::size_t ice_size)
    : proto_(proto), id_width_(id_width) {
  const std::string ts_slot(kTsDigits, '0');
  const std::string id_slot(id_width, '?');
  // Builds the message with a body of the right length so that the JSON is `size` bytes.
  auto build = [&](Kind kind, std::size_t size) {
    const char* type_sig = kind == Kind::offer ? "offer" : kind == Kind::answer ? "answer" : "ice-candidate";
    const char* type_pjs = kind == Kind::offer ? "OFFER" : kind == Kind::answer ? "ANSWER" : "CANDIDATE";
    auto assemble = [&](std::size_t body_len) {
      Template t;
      std::string body;
      if (kind == Kind::ice) {
        body = R"({"candidate":")";
        body += candidate_text(body_len);
        body += R"(","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xk3f"})";
      } else {
        body = "\"";
        body += sdp_body(body_len, type_sig);
        body += '"';
      }
      const char* body_key = kind == Kind::ice ? "candidate" : "sdp";
      std::string& s = t.text;
      if (proto_ == Protocol::floor) s.assign(kFloorHeader, '\0');
      if (proto_ == Protocol::peerjs) {
        s += std::string(R"({"type":")") + type_pjs + R"(","dst":")";
        t.to_off = s.size();
        s += id_slot;
        s += R"(","payload":{"t":")";
        t.ts_off = s.size();
        s += ts_slot;
        s += std::string(R"(","type":")") + type_sig + R"(",")" + body_key + "\":" + body + "}}";
      } else {
        s += std::string(R"({"type":")") + type_sig + R"(","t":")";
        t.ts_off = s.size();
        s += ts_slot;
        s += R"(","toUserId":")";
        t.to_off = s.size();
        s += id_slot;
        s += std::string(R"(",")") + body_key + "\":" + body + "}";
      }
      return t;
    };
    const std::size_t header = proto_ == Protocol::floor ? kFloorHeader : 0;
    Template probe = assemble(0);
    const std::size_t overhead = probe.text.size() - header;
    const std::size_t body_len = size > overhead ? size - overhead : 1;
    Template t = assemble(body_len);
    if (proto_ == Protocol::floor) {
      const auto len = static_cast<std::uint32_t>(t.text.size() - 4);
      std::memcpy(t.text.data(), &len, 4);
    }
    return t;
  };
  for (auto size : sdp_sizes) {
    offers_.push_back(build(Kind::offer, size));
    answers_.push_back(build(Kind::answer, size));
  }
  if (offers_.empty()) throw std::invalid_argument("no SDP sizes");
  ice_ = build(Kind::ice, ice_size);
}

std::string Templates::make(Kind kind, std::size_t variant, std::int64_t ts_ns, std::string_view to_id,
                            std::uint16_t to_member) const {
  const Template& t = kind == Kind::ice     ? ice_
                      : kind == Kind::offer ? offers_[variant % offers_.size()]
                                            : answers_[variant % answers_.size()];
  std::string out = t.text;
  write_ts(out.data() + t.ts_off, ts_ns);
  std::memcpy(out.data() + t.to_off, to_id.data(), std::min(to_id.size(), id_width_));
  if (proto_ == Protocol::floor) std::memcpy(out.data() + 4, &to_member, 2);
  return out;
}

}  // namespace load
