#pragma once
// The demo pages: a directory loaded into memory at start-up, so serving never touches the disk
// on a network thread. Pure lookups; no I/O after load().
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sig::net {

struct StaticFile {
  std::string content_type;
  std::string body;
};

class StaticFiles {
 public:
  // Loads every regular file below root (following symbolic links). Throws at start-up when
  // root is not a directory or holds more than max_bytes.
  void load(const std::filesystem::path& root, std::size_t max_bytes = 32U << 20U);
  // "/", "/room.html", "/lib/index.js"; "/" and directories map to index.html.
  const StaticFile* find(std::string_view path) const;
  std::size_t size() const noexcept { return files_.size(); }

 private:
  std::unordered_map<std::string, StaticFile> files_;
};

std::string content_type_for(std::string_view path);

}  // namespace sig::net
