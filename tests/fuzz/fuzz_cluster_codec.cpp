// Fuzz target: every decoder of src/cluster/codec on bytes as Redis or another node could hand
// them over (they are untrusted: anyone who can write to Redis writes them). Nothing may crash or
// throw, and whatever a decoder accepts must be valid UTF-8 and in range, so that it can be sent
// to a browser, dumped as JSON and written back to Redis.
//
// The input is used three ways: as one value (time stamp, participants JSON, event, relay frame);
// split on 0x01 into the flat field/value list of HGETALL replies (directory entry, session:ws,
// session:peers: 0x02 separates the three); and decoded as an arbitrary redis::Reply tree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/codec.hpp"
#include "common/utf8.hpp"

namespace {

using sig::redis::Reply;

void check(bool ok) {
  if (!ok) std::abort();
}

void check_text(std::string_view s) {
  check(sig::utf8::valid(s));
}

Reply strings_reply(std::string_view in) {
  Reply r;
  r.type = Reply::Type::array;
  while (true) {
    const auto sep = in.find('\x01');
    r.elements.push_back(Reply::string_reply(std::string(in.substr(0, sep))));
    if (sep == std::string_view::npos || r.elements.size() >= 64) break;
    in.remove_prefix(sep + 1);
  }
  return r;
}

// A reply tree from bytes: a type byte, then its value; arrays nest up to depth 4.
Reply tree(std::string_view& in, int depth) {
  Reply r;
  if (in.empty()) return r;
  const auto tag = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  switch (tag % 6) {
    case 0: return r;  // nil
    case 1:
      r.type = Reply::Type::integer;
      r.integer = static_cast<std::int64_t>(tag) - 128;
      return r;
    case 2:
    case 3:
    case 4: {
      const std::size_t n = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % 32;
      if (!in.empty()) in.remove_prefix(1);
      const auto take = std::min(n, in.size());
      r = Reply::string_reply(std::string(in.substr(0, take)), tag % 6 == 2   ? Reply::Type::string
                                                               : tag % 6 == 3 ? Reply::Type::status
                                                                              : Reply::Type::error);
      in.remove_prefix(take);
      return r;
    }
    default: {
      r.type = Reply::Type::array;
      const std::size_t n = depth >= 4 ? 0 : (tag / 6) % 9;
      for (std::size_t i = 0; i < n && !in.empty(); ++i)
        r.elements.push_back(tree(in, depth + 1));
      return r;
    }
  }
}

void check_record(std::string_view session_id, const sig::cluster::Fields& dir) {
  using namespace sig;
  const auto now = domain::WallTime(std::chrono::seconds(1'795'000'000));
  std::uint64_t seq = 0;
  std::string why;
  const auto r = cluster::record_from_fields(session_id, dir, now, &seq, &why);
  check_text(why);
  if (!r) {
    check(!why.empty());
    return;
  }
  check_text(r->session_id);
  check_text(r->spec.host_user_id);
  for (const auto& p : r->spec.participants) {
    check_text(p.user_id);
    check_text(p.display_name);
  }
  check(r->spec.duration.count() >= 0 && r->spec.duration.count() <= domain::kMaxSessionDurationSeconds);
  // What was accepted can be written back and reads the same.
  const auto again = cluster::record_from_fields(session_id, cluster::fields_of_record(*r), now);
  check(again.has_value());
  check(again->spec.duration == r->spec.duration && again->created_at == r->created_at);
  (void)cluster::participants_json(r->spec.participants);
}

void check_roster(const sig::cluster::Fields& ws, const sig::cluster::Fields& peers) {
  std::vector<std::string> skipped;
  for (const auto& e : sig::cluster::roster_from(ws, peers, &skipped)) {
    check_text(e.identity.user_id);
    check_text(e.identity.display_name);
    check_text(e.connection_id);
    check(!e.identity.user_id.empty() && !e.connection_id.empty());
    (void)sig::cluster::encode_joined(e);
    (void)sig::cluster::encode_left(e.identity.user_id, e.connection_id);
  }
  for (const auto& s : skipped)
    check_text(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sig::cluster;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // One value.
  if (const auto t = parse_iso8601(input)) {
    const auto years = std::chrono::duration_cast<std::chrono::hours>(t->time_since_epoch()).count() / 8766;
    check(years >= 29 && years <= 230);  // 2000..2199 counted from 1970
  }
  if (const auto list = parse_participants(input)) {
    for (const auto& p : *list) {
      check_text(p.user_id);
      check_text(p.display_name);
    }
  }
  if (const auto ev = decode_event(input)) {
    check_text(ev->member.identity.user_id);
    check_text(ev->member.identity.display_name);
    check_text(ev->member.connection_id);
  }
  if (const auto relay = decode_relay(input)) {
    check_text(relay->session_id);
    check_text(relay->connection_id);
    check_text(relay->from_user_id);
    check_text(relay->payload);
    check(!relay->payload.empty());
  }

  // HGETALL replies: directory entry, session:ws, session:peers.
  std::vector<std::string_view> parts;
  std::string_view rest = input;
  for (int i = 0; i < 3; ++i) {
    const auto sep = rest.find('\x02');
    parts.push_back(rest.substr(0, sep));
    rest.remove_prefix(sep == std::string_view::npos ? rest.size() : sep + 1);
  }
  const auto dir = fields_of(strings_reply(parts[0]));
  check_record("s1", dir);
  check_record(parts[1], dir);  // the session id comes from a key name: untrusted too
  check_roster(fields_of(strings_reply(parts[1])), fields_of(strings_reply(parts[2])));

  // Arbitrary reply trees where the node expects hashes.
  std::string_view bytes = input;
  const auto a = tree(bytes, 0);
  const auto b = tree(bytes, 0);
  const auto c = tree(bytes, 0);
  check_record("s1", fields_of(a));
  check_roster(fields_of(b), fields_of(c));
  return 0;
}
