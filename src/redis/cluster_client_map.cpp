// ClusterClient's slot map: the refresh timer (healthy and degraded periods), asking the ready
// nodes in turn (CLUSTER SHARDS, CLUSTER SLOTS before Redis 7, then CLUSTER INFO for
// cluster_state), and following a new map (connections to new primaries, old ones closed).
// Split from cluster_client.cpp (commands, routing, retries) to keep each file readable.

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include "common/log.hpp"
#include "redis/cluster_client.hpp"
#include "redis/command_channel.hpp"

namespace sig::redis {

namespace asio = boost::asio;
using cluster::NodeAddress;

void ClusterClient::arm_refresh_timer() {
  if (closed_) return;
  timer_fast_ = !connected() || suspect_;
  // Re-arming cancels the wait armed before (its handler sees operation_aborted and stops).
  refresh_timer_.expires_after(timer_fast_ ? endpoints_.cluster_refresh_degraded
                                           : endpoints_.cluster_refresh);
  refresh_timer_.async_wait(
      [weak = std::weak_ptr<ClusterClient>(shared_from_this())](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || self->closed_) return;
        self->refresh();
        self->arm_refresh_timer();
      });
}

void ClusterClient::refresh() {
  if (closed_ || !started_) return;
  if (refreshing_) {
    refresh_again_ = true;
    return;
  }
  refreshing_ = true;
  refresh_again_ = false;
  asked_at_ = errors_;
  ask_for_map(0, true);
}

// Asks the ready nodes in turn (the map's primaries and the seeds), CLUSTER SHARDS first.
void ClusterClient::ask_for_map(std::size_t attempt, bool shards) {
  std::vector<std::pair<NodeAddress, std::shared_ptr<detail::CommandChannel>>> ready;
  for (const auto& [key, n] : nodes_) {
    if (!n.channel->ready()) continue;
    if (auto address = cluster::parse_address(key); address)
      ready.emplace_back(std::move(*address), n.channel);
  }
  if (attempt >= ready.size()) {
    refreshing_ = false;
    // Nobody (else) to ask now: connect to the seeds too (closed again by the next map if they
    // are not primaries); the refresh timer or their connection asks again.
    for (const auto& seed : seeds_)
      node(seed);
    return;
  }
  const auto& [address, channel] = ready[attempt];
  const std::array<std::string_view, 2> args{"CLUSTER", shards ? "SHARDS" : "SLOTS"};
  auto p = detail::make_command(
      [weak = std::weak_ptr<ClusterClient>(shared_from_this()), attempt, shards, host = address.host,
       link = std::weak_ptr<detail::CommandChannel>(channel)](std::error_code ec, const Reply& reply) {
        auto self = weak.lock();
        if (!self || self->closed_) return;
        if (ec == Errc::server_error && shards) {  // no CLUSTER SHARDS before Redis 7
          self->ask_for_map(attempt, false);
          return;
        }
        std::string why = ec ? ec.message() : std::string();
        std::optional<cluster::SlotMap> map;
        if (!ec) {
          const bool tls = self->url_.tls;
          map = shards ? cluster::parse_cluster_shards(reply, tls, host, &why)
                       : cluster::parse_cluster_slots(reply, host, &why);
        }
        if (!map || map->primaries().empty()) {
          log::warn("redis cluster map refused", {{"client", self->endpoints_.options.name}, {"error", why}});
          self->ask_for_map(attempt + 1, true);
          return;
        }
        // Then whether that node's cluster serves: right after a restart, or while a primary is
        // down, the map is there but writes get -CLUSTERDOWN (and would be lost to a node restoring
        // its state): not connected until cluster_state:ok.
        auto info = detail::make_command([weak, got = std::make_shared<cluster::SlotMap>(std::move(*map))](
                                             std::error_code info_ec, const Reply& info_reply) {
          auto me = weak.lock();
          if (!me || me->closed_) return;
          const bool ok = !info_ec && info_reply.str.find("cluster_state:ok") != std::string::npos;
          me->map_received(std::move(*got), ok);
        });
        if (auto channel_now = link.lock()) {
          channel_now->send_now(detail::format_command(std::array<std::string_view, 2>{"CLUSTER", "INFO"}),
                                std::move(info));
        } else {
          self->refreshing_ = false;
        }
      });
  channel->send_now(detail::format_command(args), std::move(p));
}

void ClusterClient::map_received(cluster::SlotMap map, bool serving) {
  refreshing_ = false;
  if (serving != cluster_ok_)
    log::info("redis cluster state", {{"client", endpoints_.options.name}, {"ok", serving}});
  cluster_ok_ = serving;
  if (!serving) degrade();  // ask again soon
  const bool changed = !have_map_ || map.primaries() != map_.primaries();
  map_ = std::move(map);
  have_map_ = true;
  if (changed) {
    log::info("redis cluster map", {{"client", endpoints_.options.name},
                                    {"primaries", static_cast<std::uint64_t>(map_.primaries().size())},
                                    {"slots", static_cast<std::uint64_t>(map_.covered())}});
  }
  for (const auto& primary : map_.primaries())
    node(primary);
  // Connections to nodes that are no longer primaries (a failed-over primary, a seed that is a
  // replica) are closed: their commands in flight fail with closed (they may have run).
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    const auto address = cluster::parse_address(it->first);
    const auto& primaries = map_.primaries();
    if (address && std::find(primaries.begin(), primaries.end(), *address) == primaries.end()) {
      it->second.channel->close();
      it = nodes_.erase(it);
    } else {
      ++it;
    }
  }
  update_state(Errc::connection_lost);
  // Over once a map came with every primary up and no error seen since the refresh began.
  if (suspect_ && connected() && errors_ == asked_at_) suspect_ = false;
  if (auto cb = on_map_) cb(map_);
  if (refresh_again_) refresh();
}

}  // namespace sig::redis
