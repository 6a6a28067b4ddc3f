#pragma once
// Redis Cluster's routing, pure (no I/O): the key slot (CRC16 with hash tags), the slot map from
// CLUSTER SHARDS (Redis >= 7) or CLUSTER SLOTS, -MOVED / -ASK redirections, and which argument of
// a command is its key. Every reply parsed here comes from the network and is untrusted: a
// malformed one is an error with a reason, never a crash, and the map's size is bounded.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis/types.hpp"

namespace sig::redis::cluster {

inline constexpr std::size_t kSlots = 16384;
// A map naming more primaries than this is refused (Redis's own advice is at most 1000 nodes).
inline constexpr std::size_t kMaxNodes = 1000;

// CRC16/XMODEM, as Redis Cluster's spec.
std::uint16_t crc16(std::string_view data) noexcept;
// The slot of a key: of the part between the first '{' and the next '}' when non-empty.
std::uint16_t key_slot(std::string_view key) noexcept;

struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;  // host:port ([host]:port for IPv6)
  friend bool operator==(const NodeAddress&, const NodeAddress&) = default;
};
// "host:port" (the last ':' splits; "[v6]:port" too). nullopt when malformed.
std::optional<NodeAddress> parse_address(std::string_view text);

// -MOVED <slot> <host:port> / -ASK <slot> <host:port> (the error text, without '-').
struct Redirect {
  enum class Kind : std::uint8_t { moved, ask };
  Kind kind = Kind::moved;
  std::uint16_t slot = 0;
  NodeAddress node;  // host empty: "the host of the node that answered" (Redis's ":port" form)
};
std::optional<Redirect> parse_redirect(std::string_view error);
// -TRYAGAIN / -CLUSTERDOWN / -LOADING...: worth retrying after a short wait.
bool is_transient_cluster_error(std::string_view error) noexcept;

class SlotMap {
 public:
  static constexpr std::uint16_t kNone = 0xFFFF;

  const std::vector<NodeAddress>& primaries() const noexcept { return primaries_; }
  // The primary serving slot (index into primaries()), or kNone.
  std::uint16_t owner(std::uint16_t slot) const noexcept { return slot < kSlots ? owner_[slot] : kNone; }
  const NodeAddress* node_for(std::uint16_t slot) const noexcept;
  // Assigns slot to node (a -MOVED), adding the node; false when the node limit is reached.
  bool assign(std::uint16_t slot, const NodeAddress& node);
  // Assigns first..last; false: a bad range or too many nodes.
  bool assign_range(std::int64_t first, std::int64_t last, const NodeAddress& node);
  std::size_t covered() const noexcept;  // slots with an owner

 private:
  std::uint16_t index_of(const NodeAddress& node);  // adds it; kNone when full
  std::vector<NodeAddress> primaries_;
  std::array<std::uint16_t, kSlots> owner_ = make_empty();
  static std::array<std::uint16_t, kSlots> make_empty() {
    std::array<std::uint16_t, kSlots> a{};
    a.fill(kNone);
    return a;
  }
};

// tls: use a node's tls-port (CLUSTER SHARDS) when it has one. default_host: for a node announced
// without an address. nullopt (and why) when the reply does not have the documented shape.
std::optional<SlotMap> parse_cluster_shards(const Reply& reply, bool tls, const std::string& default_host,
                                            std::string* why = nullptr);
std::optional<SlotMap> parse_cluster_slots(const Reply& reply, const std::string& default_host,
                                           std::string* why = nullptr);

// The index of the argument whose slot routes the command: 1 for key commands and
// (S)PUBLISH, the first key for EVAL(SHA)(_RO)/FCALL(_RO); nullopt for commands without a key
// (PING, SCRIPT, CLUSTER, INFO, ...: any primary).
std::optional<std::size_t> key_index(std::span<const std::string_view> args) noexcept;

// One RESP2 reply decoded from bytes (tests and the fuzz target); nullopt if incomplete/invalid.
std::optional<Reply> decode_resp(std::string_view bytes);

}  // namespace sig::redis::cluster
