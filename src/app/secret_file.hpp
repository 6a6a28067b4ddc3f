#pragma once
// Secrets read from files (--jwt-secret-file, --admin-key-file, --redis-password-file), so that
// they need not appear on the command line (ps) or in the environment (/proc/<pid>/environ).
#include <cstddef>
#include <string>
#include <string_view>

namespace sig::app {

// The largest secret file read: a secret is a few dozen bytes; the bound keeps a wrong path (a
// log, a device) from being read whole.
inline constexpr std::size_t kMaxSecretFileSize = std::size_t{64} * 1024;

// Reads the secret in `path`. Refuses (std::runtime_error whose text starts with `option`) a
// file that is not a regular file (after symbolic links, as Kubernetes mounts them), that its
// group or others may read or write (mode & 077), that is empty or larger than
// kMaxSecretFileSize. One trailing newline ("\n" or "\r\n") is removed: editors add one.
std::string read_secret_file(const std::string& path, std::string_view option);

}  // namespace sig::app
