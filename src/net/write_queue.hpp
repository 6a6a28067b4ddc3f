#pragma once
// The outgoing messages of one connection: a FIFO of shared messages that counts its bytes.
// A vector with a moving head, because std::deque allocates half a kilobyte up front even when
// empty, and an idle connection should cost as little as possible. Not thread-safe: used from
// the connection's strand only.
#include <cstddef>
#include <vector>

#include "domain/endpoint.hpp"

namespace sig::net {

struct Outgoing {
  domain::Payload data;
  bool framed = false;  // data is a whole WebSocket frame already (close, pong); else a text message
};

class WriteQueue {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  std::size_t bytes() const noexcept { return bytes_; }
  const Outgoing& at(std::size_t i) const { return items_[head_ + i]; }

  void push(domain::Payload message, bool framed = false) {
    bytes_ += message->size();
    items_.push_back({std::move(message), framed});
  }

  void pop(std::size_t n = 1) {
    for (std::size_t i = 0; i < n; ++i) {
      bytes_ -= items_[head_].data->size();
      items_[head_].data.reset();
      ++head_;
    }
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
      if (items_.capacity() > kKeepCapacity) items_.shrink_to_fit();
    }
  }

  // Drops queued messages from the back until `keep` remain (those being written stay).
  void truncate(std::size_t keep) {
    while (size() > keep) {
      bytes_ -= items_.back().data->size();
      items_.pop_back();
    }
  }

  void clear() {
    items_.clear();
    items_.shrink_to_fit();
    head_ = 0;
    bytes_ = 0;
  }

 private:
  static constexpr std::size_t kKeepCapacity = 16;
  std::vector<Outgoing> items_;
  std::size_t head_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace sig::net
