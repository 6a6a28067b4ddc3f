// The one translation unit that compiles Asio (BOOST_ASIO_SEPARATE_COMPILATION) and its ssl part
// (ssl::context, ssl::stream's engine, host_name_verification), for every module: src/net (with
// Beast, compiled in its beast_impl.cpp) and src/redis link it, so the redis module links without
// Beast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
