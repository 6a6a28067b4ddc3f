#pragma once
// Internal to src/redis: the rediss:// transport. boost::asio::ssl::stream over a TCP socket
// (async connect and handshake on the Link's strand), RESP written from a queue (one async_write
// in flight, the commands queued meanwhile gathered into the next one), replies parsed by
// hiredis's redisReader and matched to the writes in order. See transport.hpp for the contract.

#include <memory>
#include <string>
#include <system_error>

#include <boost/asio/ip/tcp.hpp>

#include "redis/transport.hpp"
#include "redis/types.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace sig::redis::detail {

// Shared by every connection of one Link.
struct TlsSettings {
  std::shared_ptr<boost::asio::ssl::context> context;  // trust store, client certificate
  std::string server_name;  // SNI (unless an IP address) and the name the certificate must match
  bool verify = true;
};

// Builds the settings (loads the CA, certificate and key files). Errc::tls_config with the
// reason in why when a file cannot be read or used. default_server_name: the URL's host.
std::error_code make_tls_settings(const TlsOptions& options, const std::string& default_server_name,
                                  TlsSettings& out, std::string& why);

// Starts connect + TLS handshake to endpoint. Every failure is reported with transport_gone
// (connect_failed, tls_handshake_failed), on the strand; nullptr only when no TLS session can be
// made at all (OpenSSL out of memory; logged).
std::shared_ptr<Transport> connect_tls(const Strand& strand, const TlsSettings& tls,
                                       const boost::asio::ip::tcp::endpoint& endpoint,
                                       TransportEvents& events, const std::string& log_name);

// The same transport without TLS: plain TCP, hiredis's reader, replies matched here. For the
// sharded subscriber (hiredis 0.14's async context cannot route SSUBSCRIBE's pushes).
std::shared_ptr<Transport> connect_plain(const Strand& strand, const boost::asio::ip::tcp::endpoint& endpoint,
                                         TransportEvents& events, const std::string& log_name);

}  // namespace sig::redis::detail
