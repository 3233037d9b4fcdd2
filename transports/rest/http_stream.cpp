#include "http_stream.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include "chord/tuple_awaitable.hpp"

namespace chord::rest {

namespace ssl = asio::ssl;

namespace {
constexpr std::size_t kCoalesce = 16 << 10;  // one TLS record's worth
}

std::shared_ptr<ssl::context> make_tls_context(const TlsConfig& tls, bool server) {
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  // TlsConfig::load has checked that these parse and belong together.
  ctx->use_certificate_chain(asio::buffer(tls.cert_pem));
  ctx->use_private_key(asio::buffer(tls.key_pem), ssl::context::pem);
  ctx->add_certificate_authority(asio::buffer(tls.ca_pem));
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  // No session tickets: nothing resumes sessions here, and a ticket arriving on an idle kept-alive
  // connection would look like unasked-for bytes to the client's pool.
  if (server) SSL_CTX_set_num_tickets(ctx->native_handle(), 0);
  return ctx;
}

struct HttpStream::Tls {
  std::shared_ptr<ssl::context> context;  // outlives the stream that uses it
  ssl::stream<beast::tcp_stream&> stream;
  std::vector<char> scratch;  // the pieces of one write gathered; one write is in flight at a time
  Tls(std::shared_ptr<ssl::context> c, beast::tcp_stream& tcp) : context(std::move(c)), stream(tcp, *context) {}
};

HttpStream::HttpStream(asio::any_io_executor executor, std::shared_ptr<ssl::context> tls) : tcp_(executor) {
  if (tls) tls_ = std::make_unique<Tls>(std::move(tls), tcp_);
}

HttpStream::HttpStream(tcp::socket socket, std::shared_ptr<ssl::context> tls) : tcp_(std::move(socket)) {
  if (tls) tls_ = std::make_unique<Tls>(std::move(tls), tcp_);
}

HttpStream::~HttpStream() = default;

asio::awaitable<error_code> HttpStream::handshake_client(const std::string& host) {
  if (!tls_) co_return error_code{};
  // SNI, for a server with several names (not for an address: RFC 6066 3); and the name or
  // address its certificate must carry.
  error_code not_address;
  asio::ip::make_address(host, not_address);
  if (not_address && !SSL_set_tlsext_host_name(tls_->stream.native_handle(), host.c_str()))
    co_return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
  tls_->stream.set_verify_callback(ssl::host_name_verification(host));
  auto [ec] = co_await tls_->stream.async_handshake(ssl::stream_base::client, tuple_awaitable);
  co_return ec;
}

asio::awaitable<error_code> HttpStream::handshake_server() {
  if (!tls_) co_return error_code{};
  auto [ec] = co_await tls_->stream.async_handshake(ssl::stream_base::server, tuple_awaitable);
  co_return ec;
}

// The erased handler runs on the stream's executor, which is the caller's: Boost 1.81's
// any_completion_executor cannot be required to be non-blocking, which Beast's stream asks of
// a handler's executor.
void HttpStream::read_tls(asio::mutable_buffer buffer, Handler handler) {
  tls_->stream.async_read_some(buffer, asio::bind_executor(tcp_.get_executor(), std::move(handler)));
}

void HttpStream::write_tls(const std::array<asio::const_buffer, kGather>& buffers, Handler handler) {
  auto bound = asio::bind_executor(tcp_.get_executor(), std::move(handler));
  // TLS writes one buffer per record: a header and a small body would go as two records and two
  // segments. Small pieces are gathered into one record first (what Beast's flat_stream does).
  if (buffers[1].size() == 0 || buffers[0].size() >= kCoalesce) {
    tls_->stream.async_write_some(buffers[0], std::move(bound));
    return;
  }
  auto& scratch = tls_->scratch;
  scratch.clear();
  for (const auto& b : buffers) {
    const auto take = std::min(b.size(), kCoalesce - scratch.size());
    scratch.insert(scratch.end(), static_cast<const char*>(b.data()), static_cast<const char*>(b.data()) + take);
    if (scratch.size() == kCoalesce) break;
  }
  tls_->stream.async_write_some(asio::buffer(scratch), std::move(bound));
}

}  // namespace chord::rest
