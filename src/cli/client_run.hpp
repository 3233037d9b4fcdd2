#pragma once
// What every client command shares: the options that pick the access node, and running one
// operation against it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <type_traits>

#include "chord/id.hpp"
#include "chord/service.hpp"
#include "commands.hpp"
#include "registry.hpp"

namespace chord::cli {

struct ClientOptions {
  std::string via;
  bool json = false;
  unsigned timeout_ms = 10000;
  std::string token_file;  // the ring's client token, for writes (else $CHORD_TOKEN)
  TlsFiles tls;            // --tls-cert, --tls-key, --tls-ca (else $CHORD_TLS_*)
  Timeout timeout() const { return Timeout(timeout_ms); }
  // The token from --token-file, else $CHORD_TOKEN, else none; the TLS files read and checked.
  Result<Credentials> credentials() const;
};

// --via, --json, --timeout-ms, --token-file, --tls-*.
void common(CLI::App* cmd, ClientOptions& o);
// Prints "chordnode WHAT: message" and returns the error's exit code.
int fail(const Error& e, const std::string& what);

// What an operation may need past the access node: the node as it names itself, and a way to
// reach the ring's other nodes (with this client's credentials).
struct Reach {
  NodeRef via;
  Connector& connector;
};

// Runs one client operation against the --via node: connects, learns the ring's bits, and
// hands both to op (and a Reach, to an op that takes one).
template <class Op>
int run(const ClientOptions& o, const std::string& what, Op op) {
  const char* level = std::getenv("CHORD_LOG_LEVEL");  // e.g. debug, to see what the client does
  spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::warn);
  auto credentials = o.credentials();
  if (!credentials) {
    std::cerr << "chordnode " << what << ": " << credentials.error().message << "\n";
    return Exit::usage;
  }
  asio::io_context io;
  auto registry = make_registry(io.get_executor(), *credentials);
  auto via = registry->connect(o.via);
  if (!via) return fail(via.error(), what);
  int code = Exit::failure;
  auto task = [&]() -> asio::awaitable<void> {
    auto info = co_await (*via)->node_info(Empty{}, o.timeout());
    if (!info) {
      code = fail(info.error(), what);
      co_return;
    }
    if constexpr (std::is_invocable_v<Op&, ChordService&, Ring, Reach>)
      code = co_await op(**via, Ring(info->bits), Reach{info->self, *registry});
    else
      code = co_await op(**via, Ring(info->bits));
  };
  std::exception_ptr error;
  asio::co_spawn(io, task(), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
  return code;
}

}  // namespace chord::cli
