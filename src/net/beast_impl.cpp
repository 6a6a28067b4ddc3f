// The one translation unit that compiles Beast (BOOST_BEAST_SEPARATE_COMPILATION). Asio itself
// is compiled in src/asio/asio_impl.cpp, shared with src/redis.
#include <boost/beast/src.hpp>
