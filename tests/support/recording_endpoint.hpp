#pragma once
// A domain::Endpoint that records what the domain sends, for unit tests.
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/endpoint.hpp"

namespace sig::test_support {

class RecordingEndpoint final : public domain::Endpoint {
 public:
  void send(domain::Payload message) override {
    std::lock_guard lock(mu_);
    if (!closed_) messages_.push_back(*message);
  }
  void close(protocol::CloseCode code, domain::Payload last) override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (last) messages_.push_back(*last);
    closed_ = code;
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::vector<nlohmann::json> json() const {
    std::vector<nlohmann::json> out;
    for (const auto& m : messages())
      out.push_back(nlohmann::json::parse(m));
    return out;
  }
  // Removes and returns what was recorded so far.
  std::vector<nlohmann::json> take() {
    auto out = json();
    std::lock_guard lock(mu_);
    messages_.clear();
    return out;
  }
  std::optional<protocol::CloseCode> closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  std::optional<protocol::CloseCode> closed_;
};

}  // namespace sig::test_support
