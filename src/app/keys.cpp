#include "app/keys.hpp"

#include <openssl/rand.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "auth/jwks.hpp"
#include "common/log.hpp"
#include "http_client/url.hpp"

namespace sig::app {

namespace {

auth::VerifierOptions verifier_options(const Config& config) {
  auth::VerifierOptions vopts;
  if (!config.jwt_issuer.empty()) vopts.issuer = config.jwt_issuer;
  if (!config.jwt_audience.empty()) vopts.audience = config.jwt_audience;
  vopts.name_claim = config.jwt_name_claim;
  vopts.leeway = std::chrono::duration_cast<std::chrono::seconds>(config.jwt_leeway);
  vopts.es256_require_low_s = config.jwt_es256_require_low_s;
  return vopts;
}

// A key file (PEM or JWKS), at most `max` bytes: a wrong path (a log, a device) is not read whole.
std::string read_key_file(const std::string& path, const std::string& option, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(option + ": cannot read " + path + ": " +
                             std::error_code(errno, std::generic_category()).message());
  }
  std::string text;
  text.resize(max + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max) {
    throw std::runtime_error(option + ": " + path + " is larger than " + std::to_string(max / 1024) + " KiB");
  }
  return text;
}

bool kid_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
         ch == '_' || ch == '-';
}

}  // namespace

JwtSecret parse_jwt_secret(std::string_view text) {
  const auto colon = text.find(':');
  if (colon != std::string_view::npos && colon >= 1 && colon <= 64 && colon + 1 < text.size()) {
    const std::string_view kid = text.substr(0, colon);
    bool ok = true;
    for (const char ch : kid)
      ok = ok && kid_char(ch);
    if (ok) return {std::string(kid), std::string(text.substr(colon + 1))};
  }
  return {{}, std::string(text)};
}

void check_jwt_secrets(const std::vector<std::string>& values) {
  bool unnamed = false;
  std::set<std::string> kids;
  for (const auto& value : values) {
    const JwtSecret s = parse_jwt_secret(value);
    if (s.secret.empty()) throw std::runtime_error("--jwt-secret: an empty secret");
    if (s.kid.empty()) {
      if (unnamed) {
        throw std::runtime_error(
            "--jwt-secret: more than one secret without kid (give each a kid: --jwt-secret kid:secret); "
            "--jwt-secret-file counts as one");
      }
      unnamed = true;
    } else if (!kids.insert(s.kid).second) {
      throw std::runtime_error("--jwt-secret: kid \"" + s.kid + "\" is given twice");
    }
  }
}

bool jwks_url_ok(std::string_view url) {
  if (url.size() > 2048) return false;
  const auto parsed = http_client::parse_url(url);
  if (!parsed) return false;
  if (parsed->https) return true;
  // Over plain http anyone on the path could hand the server a key and mint tokens: only a
  // loopback host (an identity provider or a sidecar on the same machine) is accepted.
  const auto& host = parsed->host;
  return host == "localhost" || host == "::1" ||
         (host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string::npos);
}

auth::KeySet load_local_keys(const Config& config) {
  auth::KeySet keys;
  for (const auto& value : config.jwt_secrets) {
    JwtSecret s = parse_jwt_secret(value);
    keys.add_hmac_secret(std::move(s.kid), std::move(s.secret));
  }
  if (!config.jwt_public_key_file.empty()) {
    // A PEM public key is well under 16 KiB (RSA 8192 is about 1.5 KiB).
    const auto pem = read_key_file(config.jwt_public_key_file, "--jwt-public-key", std::size_t{64} * 1024);
    try {
      keys.add_public_key_pem({}, pem);
    } catch (const std::exception& e) {
      throw std::runtime_error("--jwt-public-key: " + config.jwt_public_key_file + ": " + e.what());
    }
  }
  if (!config.jwt_jwks_file.empty()) {
    const auth::JwksLimits limits;
    const auto text = read_key_file(config.jwt_jwks_file, "--jwt-jwks-file", limits.max_bytes);
    auto parsed = auth::parse_jwks(text, limits);
    for (const auto& why : parsed.skipped) {
      log::warn("jwks key skipped", {{"source", config.jwt_jwks_file}, {"reason", why}});
    }
    if (!parsed.ok())
      throw std::runtime_error("--jwt-jwks-file: " + config.jwt_jwks_file + ": " + parsed.error);
    keys.add_all(parsed.keys);
  }
  return keys;
}

void KeyRing::set_local(auth::KeySet keys) {
  const std::lock_guard lock(mutex_);
  local_ = std::move(keys);
  publish();
}

void KeyRing::set_remote(auth::KeySet keys) {
  const std::lock_guard lock(mutex_);
  remote_ = std::move(keys);
  publish();
}

bool KeyRing::local_empty() const {
  const std::lock_guard lock(mutex_);
  return local_.empty();
}

void KeyRing::publish() {
  auth::KeySet all = local_;
  all.add_all(remote_);
  verifier_.set_keys(all);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const auto b : raw) {
    out.push_back(kHex[b >> 4U]);
    out.push_back(kHex[b & 0xFU]);
  }
  return out;
}

TokenKeys make_token_keys(const Config& config) {
  TokenKeys keys{auth::Verifier(verifier_options(config)), {}};
  if (config.dev) {
    // parse_config refused --dev with any real key: this secret is the only key of a dev node.
    keys.dev_secret = random_hex(32);
    keys.verifier.set_hmac_secret(keys.dev_secret);
    return keys;
  }
  keys.verifier.set_keys(load_local_keys(config));
  return keys;
}

}  // namespace sig::app
