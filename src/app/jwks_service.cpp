// JwksService (see app/jwks_source.hpp): the JWKS source on a thread of its own. Apart from
// jwks_source.cpp so that the unit tests of the source do not link the HTTP client.
#include <boost/asio/executor_work_guard.hpp>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

#include "app/io_runner.hpp"
#include "app/jwks_source.hpp"

namespace sig::app {

struct JwksService::Impl {
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<http_client::Client> client;
  std::unique_ptr<JwksSource> source;
  std::thread thread;
};

JwksService::JwksService(JwksSourceOptions options, const std::string& ca_file, JwksSource::OnKeys on_keys)
    : impl_(std::make_unique<Impl>()) {
  try {
    impl_->client = std::make_unique<http_client::Client>(impl_->io, http_client::ClientOptions{ca_file});
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("--jwt-jwks-ca: ") + e.what());
  }
  http_client::Client* client = impl_->client.get();
  impl_->source = std::make_unique<JwksSource>(
      impl_->io, std::move(options),
      [client](http_client::Request request, JwksSource::Fetched done) {
        client->request(std::move(request), std::move(done));
      },
      std::move(on_keys));
  source_ = impl_->source.get();
}

JwksService::~JwksService() {
  if (impl_->thread.joinable()) {
    impl_->source->stop();
    impl_->work.reset();
    impl_->io.stop();
    impl_->thread.join();
  }
}

std::string JwksService::start_and_wait() {
  auto result = std::make_shared<std::promise<std::string>>();
  auto done = result->get_future();
  impl_->source->start([result](std::string error) { result->set_value(std::move(error)); });
  impl_->thread = std::thread([this] { run_io(impl_->io); });
  // The fetch is bounded (10 s) and answers once; should its handler never run (an exception
  // taken by the loop's guard), the start-up still goes on, as after a failed fetch.
  if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return "no answer within 30 s";
  return done.get();
}

}  // namespace sig::app
