// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION), and
// Asio's ssl part (ssl::context, ssl::stream's engine, host_name_verification) for src/redis.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
