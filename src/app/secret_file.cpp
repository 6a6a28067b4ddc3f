#include "app/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace sig::app {

namespace {

class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777U));
  return text;
}

}  // namespace

std::string read_secret_file(const std::string& path, std::string_view option) {
  const std::string where = std::string(option) + ": " + path + ": ";
  // O_NONBLOCK: a FIFO given by mistake must not block start-up before the check below.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) throw std::runtime_error(where + "cannot open: " + errno_text(errno));
  struct stat st {};
  // fstat of the open descriptor: the file checked is the file read (no race with a rename).
  if (::fstat(fd.get(), &st) != 0) throw std::runtime_error(where + "cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw std::runtime_error(where + "not a regular file");
  if ((st.st_mode & 077U) != 0) {
    throw std::runtime_error(where + "mode " + octal_mode(st.st_mode) +
                             " lets the group or others read or write it; make it 0600 or 0400 "
                             "(chmod go-rwx)");
  }
  if (st.st_size > static_cast<off_t>(kMaxSecretFileSize))
    throw std::runtime_error(where + "larger than " + std::to_string(kMaxSecretFileSize) + " bytes");
  std::string secret;
  char buffer[4096];
  for (;;) {
    const auto n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(where + "cannot read: " + errno_text(errno));
    }
    if (n == 0) break;
    secret.append(buffer, static_cast<std::size_t>(n));
    if (secret.size() > kMaxSecretFileSize)
      throw std::runtime_error(where + "larger than " + std::to_string(kMaxSecretFileSize) + " bytes");
  }
  if (!secret.empty() && secret.back() == '\n') {
    secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  }
  if (secret.empty()) throw std::runtime_error(where + "is empty");
  return secret;
}

}  // namespace sig::app
