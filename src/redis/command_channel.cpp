#include "redis/command_channel.hpp"

#include <array>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "redis/client.hpp"

namespace sig::redis {
namespace detail {

void CommandChannel::send(std::string resp, std::unique_ptr<Pending> p) {
  boost::asio::dispatch(strand_, [self = self_as<CommandChannel>(), resp = std::move(resp),
                                  p = std::move(p)]() mutable { self->send_now(resp, std::move(p)); });
}

void CommandChannel::send_now(const std::string& resp, std::unique_ptr<Pending> p) {
  if (state_ == State::closed) {
    fail_later(std::move(p->cb), Errc::closed);
    return;
  }
  if (state_ != State::ready || !conn_ || !ready_flag_.load(std::memory_order_relaxed)) {
    fail_later(std::move(p->cb), Errc::not_connected);
    return;
  }
  if (options_.max_pending != 0 && inflight_.size() >= options_.max_pending) {
    fail_later(std::move(p->cb), Errc::too_many_pending);
    return;
  }
  if (!write_command(resp, p)) fail_later(std::move(p->cb), Errc::not_connected);
}

void CommandChannel::user_reply(bool current, const redisReply* r, std::unique_ptr<Pending> p) {
  if (r == nullptr || !p->script) {
    Connection::user_reply(current, r, std::move(p));
    return;
  }
  Reply reply = convert_reply(r);
  if (!reply.is_error() || !reply.str.starts_with("NOSCRIPT")) {
    const std::error_code ec = reply.is_error() ? std::error_code(Errc::server_error) : std::error_code();
    if (p->cb)
      post([cb = std::move(p->cb), ec, reply = std::move(reply)]() mutable { cb(ec, std::move(reply)); });
    return;
  }
  // Load the script and run EVALSHA again, once, through the normal path.
  auto load = std::make_unique<Pending>();
  load->kind = Pending::Kind::script;
  const std::array<std::string_view, 3> load_args{"SCRIPT", "LOAD", p->script->source};
  std::string load_resp = format_command(load_args);
  auto retry = make_command(std::move(p->cb));
  std::string resend = std::move(p->resend);
  post([self = self_as<CommandChannel>(), load = std::move(load), load_resp = std::move(load_resp),
        retry = std::move(retry), resend = std::move(resend)]() mutable {
    self->send_now(load_resp, std::move(load));
    self->send_now(resend, std::move(retry));
  });
}

std::unique_ptr<Pending> make_command(ReplyCallback cb) {
  auto p = std::make_unique<Pending>();
  p->cb = std::move(cb);
  return p;
}

std::unique_ptr<Pending> make_eval(const Script& script, std::span<const std::string_view> keys,
                                   std::span<const std::string_view> args, ReplyCallback cb,
                                   std::string& resp) {
  const std::string numkeys = std::to_string(keys.size());
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.emplace_back(script.sha1());
  argv.emplace_back(numkeys);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = make_command(std::move(cb));
  p->script = ScriptAccess::data(script);
  p->resend = format_command(argv);
  resp = p->resend;
  return p;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// RedisClient: the facade of one CommandChannel on its own strand.

struct RedisClient::Private {};

std::shared_ptr<RedisClient> RedisClient::create(const boost::asio::any_io_executor& ex,
                                                 ClientOptions options) {
  return std::make_shared<RedisClient>(Private{}, ex, std::move(options));
}

RedisClient::RedisClient(Private, const boost::asio::any_io_executor& ex, ClientOptions options)
    : link_(std::make_shared<detail::CommandChannel>(boost::asio::make_strand(ex), std::move(options))) {}

RedisClient::~RedisClient() {
  link_->close();
}

void RedisClient::on_connected(EventCallback cb) {
  link_->set_on_connected(std::move(cb));
}
void RedisClient::on_disconnected(DisconnectCallback cb) {
  link_->set_on_disconnected(std::move(cb));
}
void RedisClient::on_reconnected(EventCallback cb) {
  link_->set_on_reconnected(std::move(cb));
}
std::error_code RedisClient::start(StartCallback on_first_result) {
  return link_->start(std::move(on_first_result));
}
void RedisClient::close() {
  link_->close();
}
bool RedisClient::connected() const noexcept {
  return link_->ready();
}
Strand RedisClient::executor() const {
  return link_->strand();
}

void RedisClient::command(std::span<const std::string_view> args, ReplyCallback cb) {
  if (args.empty() || detail::is_forbidden_on_command_link(args.front())) {
    if (cb) boost::asio::post(link_->strand(), [cb = std::move(cb)] { cb(Errc::invalid_argument, Reply{}); });
    return;
  }
  link_->send(detail::format_command(args), detail::make_command(std::move(cb)));
}

void RedisClient::preload(const Script& script) {
  link_->preload(detail::ScriptAccess::data(script));
}

void RedisClient::eval(const Script& script, std::span<const std::string_view> keys,
                       std::span<const std::string_view> args, ReplyCallback cb) {
  std::string resp;
  auto p = detail::make_eval(script, keys, args, std::move(cb), resp);
  link_->send(std::move(resp), std::move(p));
}

}  // namespace sig::redis
