#include "net/static_files.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace sig::net {

std::string content_type_for(std::string_view path) {
  const auto dot = path.rfind('.');
  const auto ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json") return "application/json";
  if (ext == "png") return "image/png";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "ico") return "image/x-icon";
  if (ext == "ts") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

void StaticFiles::load(const std::filesystem::path& root, std::size_t max_bytes) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(root)) throw std::runtime_error("web root is not a directory: " + root.string());
  std::size_t total = 0;
  const auto options = fs::directory_options::follow_directory_symlink;
  for (auto it = fs::recursive_directory_iterator(root, options); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_regular_file()) continue;
    const auto relative = it->path().lexically_relative(root).generic_string();
    if (relative.empty() || relative.front() == '.' || relative.find("/.") != std::string::npos) continue;
    if (relative.find("node_modules") != std::string::npos) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    total += body.size();
    if (total > max_bytes) throw std::runtime_error("web root is larger than the limit: " + root.string());
    files_["/" + relative] = StaticFile{content_type_for(relative), std::move(body)};
  }
}

const StaticFile* StaticFiles::find(std::string_view path) const {
  std::string key(path);
  if (key.empty() || key.back() == '/') key += "index.html";
  auto it = files_.find(key);
  if (it == files_.end()) it = files_.find(key + "/index.html");
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace sig::net
