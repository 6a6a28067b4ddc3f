#include "redis/channels.hpp"

#include <utility>

#include "redis/client.hpp"
#include "redis/cluster_client.hpp"
#include "redis/cluster_subscriber.hpp"

namespace sig::redis {

std::shared_ptr<Commands> make_commands(const boost::asio::any_io_executor& ex, Endpoints e) {
  if (!e.cluster_seeds.empty()) return ClusterClient::create(ex, std::move(e));
  return RedisClient::create(ex, std::move(e.options));
}

std::shared_ptr<Subscriptions> make_subscriptions(const boost::asio::any_io_executor& ex, Endpoints e) {
  if (!e.cluster_seeds.empty()) return ClusterSubscriber::create(ex, std::move(e));
  return RedisSubscriber::create(ex, std::move(e.options));
}

}  // namespace sig::redis
