// A set of verification keys (see auth/key_set.hpp).

#include "auth/key_set.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "auth/key_entry.hpp"

namespace sig::auth {

using detail::Alg;

KeySet::KeySet() = default;
KeySet::~KeySet() = default;
KeySet::KeySet(const KeySet&) = default;
KeySet& KeySet::operator=(const KeySet&) = default;
KeySet::KeySet(KeySet&&) noexcept = default;
KeySet& KeySet::operator=(KeySet&&) noexcept = default;

void KeySet::add_hmac_secret(std::string kid, std::string secret, std::optional<Algorithm> only) {
  if (secret.empty()) throw std::invalid_argument("jwt: an empty secret is no key");
  auto entry = std::make_shared<detail::KeyEntry>();
  entry->kid = std::move(kid);
  entry->family = Alg::HS256;
  if (only) {
    const Alg a = detail::to_alg(*only);
    if (!detail::is_hmac(a)) throw std::invalid_argument("jwt: a secret verifies HS256, HS384 or HS512 only");
    entry->only = a;
  }
  entry->hmac.set(std::move(secret));
  entries_.push_back(std::move(entry));
}

void KeySet::add_public_key_pem(std::string kid, std::string_view pem) {
  auto entry = std::make_shared<detail::KeyEntry>();
  entry->pkey = detail::load_public_key(pem);
  entry->family = detail::public_key_alg(entry->pkey.get());  // throws for any other key
  entry->kid = std::move(kid);
  entries_.push_back(std::move(entry));
}

void KeySet::add_all(const KeySet& other) {
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

void KeySet::remove_unnamed(Algorithm family) {
  Alg f = detail::to_alg(family);
  if (detail::is_hmac(f)) f = Alg::HS256;
  std::erase_if(entries_, [f](const auto& e) { return e->kid.empty() && e->family == f; });
}

bool KeySet::has_kid(std::string_view kid) const noexcept {
  return std::any_of(entries_.begin(), entries_.end(), [kid](const auto& e) { return e->kid == kid; });
}

std::vector<std::string> KeySet::describe() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) {
    std::string line = "kid=" + (e->kid.empty() ? std::string("-") : e->kid) + " alg=";
    if (e->family == Alg::HS256) {
      line += e->only ? detail::alg_name(*e->only) : "HS256/HS384/HS512";
    } else {
      line += detail::alg_name(e->family);
    }
    out.push_back(std::move(line));
  }
  return out;
}

void KeySet::add_entry(std::shared_ptr<const detail::KeyEntry> entry) {
  entries_.push_back(std::move(entry));
}

}  // namespace sig::auth
