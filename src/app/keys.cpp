#include "app/keys.hpp"

#include <openssl/rand.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <vector>

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

std::string read_public_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("--jwt-public-key: cannot read " + path + ": " +
                             std::error_code(errno, std::generic_category()).message());
  }
  // A PEM public key is well under 16 KiB (RSA 8192 is about 1.5 KiB); read no more.
  constexpr std::size_t kMax = std::size_t{64} * 1024;
  std::string text;
  text.resize(kMax + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMax) throw std::runtime_error("--jwt-public-key: " + path + " is larger than 64 KiB");
  return text;
}

}  // namespace

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
  if (!config.jwt_secret.empty()) keys.verifier.set_hmac_secret(config.jwt_secret);
  if (!config.jwt_public_key_file.empty()) {
    const auto pem = read_public_key(config.jwt_public_key_file);
    try {
      keys.verifier.set_public_key_pem(pem);
    } catch (const std::exception& e) {
      throw std::runtime_error("--jwt-public-key: " + config.jwt_public_key_file + ": " + e.what());
    }
  }
  return keys;
}

}  // namespace sig::app
