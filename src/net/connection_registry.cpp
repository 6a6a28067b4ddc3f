#include "net/connection_registry.hpp"

namespace sig::net {

ConnectionRegistry::Added ConnectionRegistry::add(std::weak_ptr<domain::Endpoint> connection) {
  const std::lock_guard lock(mu_);
  const Id id = next_++;
  open_.emplace(id, std::move(connection));
  return {id, draining_.load()};
}

void ConnectionRegistry::remove(Id id) {
  if (id == 0) return;
  const std::lock_guard lock(mu_);
  open_.erase(id);
}

std::size_t ConnectionRegistry::size() const {
  const std::lock_guard lock(mu_);
  return open_.size();
}

std::vector<std::weak_ptr<domain::Endpoint>> ConnectionRegistry::start_draining() {
  const std::lock_guard lock(mu_);
  draining_.store(true);
  std::vector<std::weak_ptr<domain::Endpoint>> out;
  out.reserve(open_.size());
  for (const auto& [id, connection] : open_)
    out.push_back(connection);
  return out;
}

bool ConnectionRegistry::draining() const noexcept {
  return draining_.load();
}

}  // namespace sig::net
