#pragma once
// A small synchronous HTTP/1.1 client (keep-alive) for the server's admin API.

#include <memory>
#include <string>
#include <string_view>

#include "common.hpp"

namespace load {

class AdminClient {
 public:
  AdminClient(Endpoint target, std::string admin_key);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Returns the HTTP status; throws std::runtime_error when the server cannot be reached.
  int request(std::string_view method, const std::string& path, const std::string& body,
              std::string* response_body = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace load
