// HS256 / HS384 / HS512 (see auth/hmac.hpp).

#include "auth/hmac.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>

#include <cstring>
#include <utility>

namespace sig::auth::detail {

void HmacKeys::set(std::string secret) {
  if (secret.empty()) {  // an empty secret would let anyone forge tokens: treat as unset
    has_secret_ = false;
    OPENSSL_cleanse(secret.data(), secret.size());
    return;
  }
  std::array<Key, 3> keys;
  for (int i = 0; i < 3; ++i) {
    EvpMdPtr md = fetch_md(hmac_digest_name(static_cast<Alg>(i)));
    const auto block = static_cast<std::size_t>(EVP_MD_get_block_size(md.get()));
    std::array<unsigned char, 128> k{};  // the key padded to the block size (SHA-512: 128)
    if (secret.size() > block) {         // longer keys are hashed first (RFC 2104)
      unsigned int len = 0;
      if (EVP_Digest(secret.data(), secret.size(), k.data(), &len, md.get(), nullptr) != 1) {
        throw_openssl("hashing the HMAC secret");
      }
    } else {
      std::memcpy(k.data(), secret.data(), secret.size());
    }
    std::array<unsigned char, 128> ipad{}, opad{};
    for (std::size_t j = 0; j < block; ++j) {
      ipad[j] = static_cast<unsigned char>(k[j] ^ 0x36);
      opad[j] = static_cast<unsigned char>(k[j] ^ 0x5c);
    }
    Key& key = keys[static_cast<std::size_t>(i)];
    key.inner.reset(EVP_MD_CTX_new());
    key.outer.reset(EVP_MD_CTX_new());
    const bool ok = key.inner && key.outer && EVP_DigestInit_ex2(key.inner.get(), md.get(), nullptr) == 1 &&
                    EVP_DigestUpdate(key.inner.get(), ipad.data(), block) == 1 &&
                    EVP_DigestInit_ex2(key.outer.get(), md.get(), nullptr) == 1 &&
                    EVP_DigestUpdate(key.outer.get(), opad.data(), block) == 1;
    OPENSSL_cleanse(k.data(), k.size());
    OPENSSL_cleanse(ipad.data(), ipad.size());
    OPENSSL_cleanse(opad.data(), opad.size());
    if (!ok) throw_openssl("setting up the HMAC key");
  }
  OPENSSL_cleanse(secret.data(), secret.size());
  keys_ = std::move(keys);
  has_secret_ = true;
}

bool HmacKeys::verify(Alg alg, std::string_view input, std::string_view sig, EVP_MD_CTX* scratch) const {
  const Key& key = keys_[static_cast<std::size_t>(alg)];
  EVP_MD_CTX* ctx = scratch;
  unsigned char inner[EVP_MAX_MD_SIZE];
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int inner_len = 0, mac_len = 0;
  if (ctx == nullptr || EVP_MD_CTX_copy_ex(ctx, key.inner.get()) != 1 ||
      EVP_DigestUpdate(ctx, input.data(), input.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, inner, &inner_len) != 1 || EVP_MD_CTX_copy_ex(ctx, key.outer.get()) != 1 ||
      EVP_DigestUpdate(ctx, inner, inner_len) != 1 || EVP_DigestFinal_ex(ctx, mac, &mac_len) != 1) {
    ERR_clear_error();
    return false;
  }
  return sig.size() == mac_len && CRYPTO_memcmp(sig.data(), mac, mac_len) == 0;
}

std::string hmac_sign(Alg alg, std::string_view secret, std::string_view input) {
  EvpMdPtr md = fetch_md(hmac_digest_name(alg));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(md.get(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len) == nullptr) {
    throw_openssl("HMAC");
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

}  // namespace sig::auth::detail
