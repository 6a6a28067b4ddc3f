#pragma once
// The messages kept for a participant who is reconnecting, delivered in order when it resumes.
// Bounded by count and by bytes: a participant who never comes back cannot make the node grow.
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/endpoint.hpp"

namespace sig::domain {

class ResumeQueue {
 public:
  struct Item {
    Payload message;
    std::string from_user_id;  // who sent it, to be told when it is dropped
  };

  // False (nothing kept) when it would exceed either bound.
  bool push(Payload message, std::string_view from_user_id, std::size_t max_messages, std::size_t max_bytes) {
    const std::size_t size = message ? message->size() : 0;
    if (items_.size() >= max_messages || bytes_ + size > max_bytes) return false;
    bytes_ += size;
    items_.push_back({std::move(message), std::string(from_user_id)});
    return true;
  }

  // Everything kept, in order; the queue is empty afterwards.
  std::vector<Item> take() {
    std::vector<Item> out(std::make_move_iterator(items_.begin()), std::make_move_iterator(items_.end()));
    items_.clear();
    bytes_ = 0;
    return out;
  }

  std::size_t size() const noexcept { return items_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }
  bool empty() const noexcept { return items_.empty(); }

 private:
  std::deque<Item> items_;
  std::size_t bytes_ = 0;
};

}  // namespace sig::domain
