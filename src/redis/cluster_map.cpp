#include "redis/cluster_map.hpp"

#include <algorithm>
#include <charconv>
#include <memory>

#include <hiredis/hiredis.h>

#include "redis/protocol.hpp"

namespace sig::redis::cluster {

// ---------------------------------------------------------------------------------------------
// Slots

std::uint16_t crc16(std::string_view data) noexcept {
  // In unsigned int throughout: a std::uint16_t operand is promoted to (signed) int.
  unsigned int crc = 0;
  for (const char c : data) {
    crc ^= static_cast<unsigned int>(static_cast<unsigned char>(c)) << 8U;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000U) != 0 ? ((crc << 1U) ^ 0x1021U) : (crc << 1U);
      crc &= 0xFFFFU;
    }
  }
  return static_cast<std::uint16_t>(crc);
}

std::uint16_t key_slot(std::string_view key) noexcept {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(crc16(key) & (kSlots - 1));
}

// ---------------------------------------------------------------------------------------------
// Addresses and redirections

namespace {

template <typename T>
std::optional<T> to_number(std::string_view s) {
  T v{};
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || res.ec != std::errc{} || res.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint16_t> to_port(std::int64_t v) {
  if (v <= 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::string NodeAddress::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<NodeAddress> parse_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  // Redis 7 may append "@cport" or ",hostname" in some replies: only digits are a port here.
  const auto p = to_number<std::int64_t>(port);
  if (!p) return std::nullopt;
  const auto checked = to_port(*p);
  if (!checked || host.size() > 255) return std::nullopt;
  return NodeAddress{std::string(host), *checked};
}

std::optional<Redirect> parse_redirect(std::string_view error) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    r.kind = Redirect::Kind::moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = Redirect::Kind::ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = to_number<std::uint32_t>(error.substr(0, space));
  if (!slot || *slot >= kSlots) return std::nullopt;
  auto node = parse_address(error.substr(space + 1));
  if (!node) return std::nullopt;
  r.slot = static_cast<std::uint16_t>(*slot);
  r.node = std::move(*node);
  return r;
}

bool is_transient_cluster_error(std::string_view error) noexcept {
  return error.starts_with("TRYAGAIN") || error.starts_with("CLUSTERDOWN") || error.starts_with("LOADING") ||
         error.starts_with("MASTERDOWN");
}

// ---------------------------------------------------------------------------------------------
// SlotMap

const NodeAddress* SlotMap::node_for(std::uint16_t slot) const noexcept {
  const auto i = owner(slot);
  return i == kNone ? nullptr : &primaries_[i];
}

std::uint16_t SlotMap::index_of(const NodeAddress& node) {
  const auto it = std::find(primaries_.begin(), primaries_.end(), node);
  if (it != primaries_.end()) return static_cast<std::uint16_t>(it - primaries_.begin());
  if (primaries_.size() >= kMaxNodes) return kNone;
  primaries_.push_back(node);
  return static_cast<std::uint16_t>(primaries_.size() - 1);
}

bool SlotMap::assign(std::uint16_t slot, const NodeAddress& node) {
  return assign_range(slot, slot, node);
}

bool SlotMap::assign_range(std::int64_t first, std::int64_t last, const NodeAddress& node) {
  if (first < 0 || last < first || last >= static_cast<std::int64_t>(kSlots)) return false;
  const auto i = index_of(node);
  if (i == kNone) return false;
  for (auto s = first; s <= last; ++s)
    owner_[static_cast<std::size_t>(s)] = i;
  return true;
}

std::size_t SlotMap::covered() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(owner_.begin(), owner_.end(), [](std::uint16_t o) { return o != kNone; }));
}

// ---------------------------------------------------------------------------------------------
// CLUSTER SHARDS / CLUSTER SLOTS

namespace {

std::nullopt_t fail(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return std::nullopt;
}

std::optional<std::int64_t> as_int(const Reply& r) {
  if (r.is_integer()) return r.integer;
  if (r.is_string() || r.is_status()) return to_number<std::int64_t>(r.str);
  return std::nullopt;
}

// A RESP2 "map": a flat array of name, value pairs. Returns the value of name, or nullptr.
const Reply* field(const Reply& map, std::string_view name) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    const Reply& k = map.elements[i];
    if ((k.is_string() || k.is_status()) && k.str == name) return &map.elements[i + 1];
  }
  return nullptr;
}

std::string text_field(const Reply& map, std::string_view name) {
  const Reply* v = field(map, name);
  return v != nullptr && (v->is_string() || v->is_status()) ? v->str : std::string();
}

// The primary of one shard's "nodes": a master, the online one first.
std::optional<NodeAddress> shard_primary(const Reply& nodes, bool tls, const std::string& default_host) {
  std::optional<NodeAddress> fallback;
  for (const Reply& node : nodes.elements) {
    if (!node.is_array() || text_field(node, "role") != "master") continue;
    std::string host = text_field(node, "endpoint");
    if (host.empty() || host == "?") host = text_field(node, "ip");
    if (host.empty()) host = default_host;
    std::optional<std::int64_t> port;
    if (const Reply* tp = field(node, "tls-port"); tls && tp != nullptr) port = as_int(*tp);
    if (!port || *port == 0) {
      if (const Reply* p = field(node, "port"); p != nullptr) port = as_int(*p);
    }
    if (!port) {
      if (const Reply* tp = field(node, "tls-port"); tp != nullptr) port = as_int(*tp);
    }
    const auto checked = port ? to_port(*port) : std::nullopt;
    if (!checked || host.size() > 255) continue;
    NodeAddress address{std::move(host), *checked};
    if (text_field(node, "health") == "online") return address;
    if (!fallback) fallback = std::move(address);
  }
  return fallback;
}

}  // namespace

std::optional<SlotMap> parse_cluster_shards(const Reply& reply, bool tls, const std::string& default_host,
                                            std::string* why) {
  if (!reply.is_array()) return fail(why, "CLUSTER SHARDS: not an array");
  SlotMap map;
  for (const Reply& shard : reply.elements) {
    if (!shard.is_array()) return fail(why, "CLUSTER SHARDS: a shard is not a map");
    const Reply* slots = field(shard, "slots");
    const Reply* nodes = field(shard, "nodes");
    if (slots == nullptr || nodes == nullptr || !slots->is_array() || !nodes->is_array() ||
        slots->elements.size() % 2 != 0) {
      return fail(why, "CLUSTER SHARDS: a shard without slots and nodes");
    }
    if (slots->elements.empty()) continue;
    const auto primary = shard_primary(*nodes, tls, default_host);
    if (!primary) continue;  // no usable primary now (failover under way): its slots stay unknown
    for (std::size_t i = 0; i < slots->elements.size(); i += 2) {
      const auto first = as_int(slots->elements[i]);
      const auto last = as_int(slots->elements[i + 1]);
      if (!first || !last || !map.assign_range(*first, *last, *primary)) {
        return fail(why, "CLUSTER SHARDS: a bad slot range or too many nodes");
      }
    }
  }
  return map;
}

std::optional<SlotMap> parse_cluster_slots(const Reply& reply, const std::string& default_host,
                                           std::string* why) {
  if (!reply.is_array()) return fail(why, "CLUSTER SLOTS: not an array");
  SlotMap map;
  for (const Reply& range : reply.elements) {
    if (!range.is_array() || range.elements.size() < 3 || !range.elements[2].is_array() ||
        range.elements[2].elements.size() < 2) {
      return fail(why, "CLUSTER SLOTS: a malformed slot range");
    }
    const Reply& primary = range.elements[2];
    std::string host = primary.elements[0].is_string() ? primary.elements[0].str : std::string();
    if (host.empty() || host == "?") host = default_host;
    const auto port = as_int(primary.elements[1]);
    const auto checked = port ? to_port(*port) : std::nullopt;
    const auto first = as_int(range.elements[0]);
    const auto last = as_int(range.elements[1]);
    if (!checked || !first || !last || host.size() > 255 ||
        !map.assign_range(*first, *last, NodeAddress{std::move(host), *checked})) {
      return fail(why, "CLUSTER SLOTS: a bad slot range, address or too many nodes");
    }
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// Commands

std::optional<std::size_t> key_index(std::span<const std::string_view> args) noexcept {
  if (args.size() < 2) return std::nullopt;
  std::array<char, 16> upper{};
  const std::string_view name = args[0];
  if (name.size() > upper.size()) return 1;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const std::string_view n(upper.data(), name.size());
  static constexpr std::array<std::string_view, 6> kScripts{"EVAL",       "EVALSHA", "EVAL_RO",
                                                            "EVALSHA_RO", "FCALL",   "FCALL_RO"};
  if (std::find(kScripts.begin(), kScripts.end(), n) != kScripts.end()) {
    const auto numkeys = args.size() > 2 ? to_number<std::uint64_t>(args[2]) : std::nullopt;
    if (!numkeys || *numkeys == 0 || args.size() < 4) return std::nullopt;
    return 3;
  }
  static constexpr std::array<std::string_view, 19> kKeyless{
      "PING",    "ECHO", "INFO",  "SCRIPT", "CLUSTER", "CONFIG",   "CLIENT", "TIME",   "DBSIZE", "FLUSHALL",
      "FLUSHDB", "ROLE", "HELLO", "AUTH",   "COMMAND", "FUNCTION", "DEBUG",  "PUBSUB", "WAIT"};
  if (std::find(kKeyless.begin(), kKeyless.end(), n) != kKeyless.end()) return std::nullopt;
  return 1;
}

std::optional<Reply> decode_resp(std::string_view bytes) {
  // hiredis allocates an array's element table from its announced length before reading it: an
  // array cannot have more elements than there are bytes, so refuse such announcements first.
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '*') continue;
    std::size_t j = i + 1;
    std::uint64_t n = 0;
    while (j < bytes.size() && bytes[j] >= '0' && bytes[j] <= '9' && n <= bytes.size()) {
      n = n * 10 + static_cast<std::uint64_t>(bytes[j] - '0');
      ++j;
    }
    if (n > bytes.size()) return std::nullopt;
  }
  const std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), &redisReaderFree);
  if (!reader || redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) return std::nullopt;
  const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw), &freeReplyObject);
  return detail::convert_reply(reply.get());
}

}  // namespace sig::redis::cluster
