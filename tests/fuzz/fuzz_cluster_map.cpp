// Fuzz target: whatever a Redis Cluster node answers to CLUSTER SHARDS / CLUSTER SLOTS (RESP
// bytes), and whatever error text comes back (-MOVED / -ASK), parses to a bounded slot map or to
// an error with a reason, never a crash; a parsed map only names primaries it holds, at most
// kMaxNodes, and every key maps to a slot below 16384.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "redis/cluster_map.hpp"

namespace {

void check_map(const sig::redis::cluster::SlotMap& map) {
  using sig::redis::cluster::SlotMap;
  if (map.primaries().size() > sig::redis::cluster::kMaxNodes) std::abort();
  for (std::size_t s = 0; s < sig::redis::cluster::kSlots; ++s) {
    const auto owner = map.owner(static_cast<std::uint16_t>(s));
    if (owner != SlotMap::kNone && owner >= map.primaries().size()) std::abort();
  }
  for (const auto& node : map.primaries()) {
    if (node.port == 0) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cluster = sig::redis::cluster;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (cluster::key_slot(input) >= cluster::kSlots) std::abort();
  if (const auto r = cluster::parse_redirect(input); r) {
    if (r->slot >= cluster::kSlots || r->node.port == 0) std::abort();
  }

  const auto reply = cluster::decode_resp(input);
  if (!reply) return 0;
  for (const bool tls : {false, true}) {
    std::string why;
    const auto map = cluster::parse_cluster_shards(*reply, tls, "127.0.0.1", &why);
    if (map) {
      check_map(*map);
    } else if (why.empty()) {
      std::abort();  // every refusal says why
    }
  }
  std::string why;
  const auto slots = cluster::parse_cluster_slots(*reply, "127.0.0.1", &why);
  if (slots) {
    check_map(*slots);
  } else if (why.empty()) {
    std::abort();
  }
  return 0;
}
