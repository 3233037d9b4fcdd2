#pragma once
// The byte stream under HTTP: plain TCP, or TLS over TCP, chosen at run time (http:// or
// https://). Beast's HTTP code is instantiated once, over this type, and the TLS engine once,
// behind a type-erased handler, rather than for every one of Beast's operations.
#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "chord/result.hpp"
#include "chord/tls.hpp"

namespace boost::asio::ssl {
class context;
}

namespace chord::rest {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// An OpenSSL context with this end's certificate and the ring's CA, verifying the other end's
// certificate (mutual TLS). server: for accepted connections; else for outgoing ones.
std::shared_ptr<asio::ssl::context> make_tls_context(const TlsConfig& tls, bool server);

class HttpStream {
 public:
  using executor_type = asio::any_io_executor;
  // A stream to be connected (client); TLS when tls is not null.
  HttpStream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls);
  // An accepted connection (server).
  HttpStream(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls);
  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  executor_type get_executor() { return tcp_.get_executor(); }
  beast::tcp_stream& tcp_stream() { return tcp_; }
  tcp::socket& socket() { return tcp_.socket(); }
  bool tls() const { return tls_ != nullptr; }
  // Deadlines of the TCP stream bound every read and write, TLS records included.
  template <class D>
  void expires_after(D d) { tcp_.expires_after(d); }
  template <class T>
  void expires_at(T t) { tcp_.expires_at(t); }
  void expires_never() { tcp_.expires_never(); }

  // The TLS handshake, within the current deadline; a no-op without TLS. A client checks that
  // the server's certificate names host.
  asio::awaitable<error_code> handshake_client(const std::string& host);
  asio::awaitable<error_code> handshake_server();

  // AsyncReadStream and AsyncWriteStream, for Beast. Plain TCP goes straight to the TCP stream;
  // TLS behind a type-erased handler, where a read fills the first non-empty buffer and a write
  // gathers small pieces into one record.
  static constexpr std::size_t kGather = 8;
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (!tls_) return tcp_.async_read_some(b, std::move(handler));
          asio::mutable_buffer first;
          for (auto it = asio::buffer_sequence_begin(b); it != asio::buffer_sequence_end(b); ++it) {
            if (asio::mutable_buffer piece(*it); piece.size() != 0) {
              first = piece;
              break;
            }
          }
          read_tls(first, std::move(handler));
        },
        token, buffers);
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (!tls_) return tcp_.async_write_some(b, std::move(handler));
          std::array<asio::const_buffer, kGather> gather{};
          std::size_t n = 0;
          for (auto it = asio::buffer_sequence_begin(b); it != asio::buffer_sequence_end(b) && n < kGather; ++it) {
            if (asio::const_buffer piece(*it); piece.size() != 0) gather[n++] = piece;
          }
          write_tls(gather, std::move(handler));
        },
        token, buffers);
  }

 private:
  using Handler = asio::any_completion_handler<void(error_code, std::size_t)>;
  void read_tls(asio::mutable_buffer buffer, Handler handler);
  void write_tls(const std::array<asio::const_buffer, kGather>& buffers, Handler handler);
  struct Tls;
  beast::tcp_stream tcp_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace chord::rest
