// chordnode bench-raw: the frameworks with no Chord on top, measured the way bench-client
// measures chordnode, so that every row of bench/ has a floor to be compared with. In one
// process, a minimal server and a client on 127.0.0.1:
//   tcp   asio: a 64-byte message echoed; a stream of 1 MiB writes, read and dropped
//   http  Beast (the server and client pool of the REST transport): a POST echoed; 1 MiB POSTs
//   grpc  the chord.v1.Chord service with only Ping and Store: a unary Ping; 1 MiB Store chunks
//   amqp  rabbitmq-c through the broker (the AMQP transport's Link): a request/reply with direct
//         reply-to; 1 MiB requests
// ping prints latency percentiles; stream prints MB/s for --bytes in 1 MiB pieces.
#include <grpcpp/grpcpp.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <iostream>
#include <thread>

#include "amqp_transport.hpp"
#include "chord/v1/chord.grpc.pb.h"
#include "commands.hpp"
#include "http_client.hpp"
#include "http_server.hpp"
#include "library.hpp"
#include "latency.hpp"
#include "values.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord::cli {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
constexpr std::size_t piece = 1 << 20;

struct RawOptions {
  std::string framework = "tcp";
  std::string op = "ping";
  unsigned count = 2000;
  std::string bytes = "256MiB";
};

struct Samples {
  std::vector<double> ms;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

double since_ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Runs the client coroutine on io (which the server shares) and returns what it measured.
Samples run_client(asio::io_context& io, std::function<asio::awaitable<Result<void>>(Samples&)> client) {
  Samples s;
  std::optional<Error> error;
  auto task = [&]() -> asio::awaitable<void> {
    auto t0 = Clock::now();
    auto r = co_await client(s);
    s.seconds = since_ms(t0) / 1000;
    if (!r) error = r.error();
  };
  asio::co_spawn(io, task(), asio::detached);
  io.run();
  if (error) throw std::runtime_error(error->message);
  return s;
}

// ---- plain TCP ----------------------------------------------------------------------------

// A server's own I/O thread: a chordnode peer is another process, never the caller's thread.
struct ServerThread {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~ServerThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

Samples raw_tcp(const RawOptions& o, std::uint64_t total) {
  asio::io_context io;
  ServerThread st;
  tcp::acceptor acceptor(st.io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto port = acceptor.local_endpoint().port();
  auto serve = [&]() -> asio::awaitable<void> {
    auto [ec, s] = co_await acceptor.async_accept(tuple_awaitable);
    if (ec) co_return;
    s.set_option(tcp::no_delay(true));
    std::vector<char> buf(piece);
    for (;;) {
      auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), tuple_awaitable);
      if (rec) co_return;
      if (o.op == "ping") {
        auto [wec, m] = co_await asio::async_write(s, asio::buffer(buf.data(), n), tuple_awaitable);
        if (wec) co_return;
      }
    }
  };
  asio::co_spawn(st.io, serve(), asio::detached);
  return run_client(io, [&](Samples& out) -> asio::awaitable<Result<void>> {
    tcp::socket s(io);
    co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    if (o.op == "ping") {
      char msg[64] = {}, back[64];
      for (unsigned i = 0; i < o.count; ++i) {
        auto t0 = Clock::now();
        co_await asio::async_write(s, asio::buffer(msg), asio::use_awaitable);
        co_await asio::async_read(s, asio::buffer(back), asio::use_awaitable);
        out.ms.push_back(since_ms(t0));
      }
    } else {
      std::string data(piece, 'x');
      for (out.bytes = 0; out.bytes < total; out.bytes += piece)
        co_await asio::async_write(s, asio::buffer(data), asio::use_awaitable);
    }
    s.close();
    co_return Result<void>{};
  });
}

// ---- HTTP (Beast) -------------------------------------------------------------------------

Samples raw_http(const RawOptions& o, std::uint64_t total) {
  asio::io_context io;
  ServerThread st;
  auto server = rest::HttpServer::start("127.0.0.1:0", st.io.get_executor(), [](rest::Exchange& ex) -> asio::awaitable<void> {
    auto body = co_await ex.read_body(8 << 20);
    if (!body) co_return;
    if (body->size() > 64) body->clear();  // a stream's piece is taken, not echoed
    (void)co_await ex.respond(rest::http::status::ok, "application/octet-stream", std::move(*body));
  });
  if (!server) throw std::runtime_error(server.error().message);
  auto inflight = std::make_shared<unary::Inflight>();
  auto peer = std::make_shared<rest::HttpPeer>(io.get_executor(), "127.0.0.1", (*server)->port(), "raw-http", inflight);
  auto s = run_client(io, [&](Samples& out) -> asio::awaitable<Result<void>> {
    const Timeout t(10000);
    if (o.op == "ping") {
      for (unsigned i = 0; i < o.count; ++i) {
        auto t0 = Clock::now();
        auto r = co_await peer->request("POST", "/echo", "application/octet-stream", std::string(64, 'x'), t, "echo");
        if (!r) co_return r.error();
        out.ms.push_back(since_ms(t0));
      }
    } else {
      for (out.bytes = 0; out.bytes < total; out.bytes += piece) {
        auto r = co_await peer->request("POST", "/take", "application/octet-stream", std::string(piece, 'x'), t, "take");
        if (!r) co_return r.error();
      }
    }
    peer->close();
    co_return Result<void>{};
  });
  (*server)->shutdown();  // from this thread while the server's still runs
  return s;
}

// ---- gRPC ---------------------------------------------------------------------------------

class RawService final : public chord::v1::Chord::Service {
 public:
  grpc::Status Ping(grpc::ServerContext*, const chord::v1::Empty*, chord::v1::Node* reply) override {
    reply->set_uri("raw");
    return grpc::Status::OK;
  }
  grpc::Status Store(grpc::ServerContext*, grpc::ServerReader<chord::v1::StoreChunk>* reader,
                     chord::v1::StoreReply* reply) override {
    chord::v1::StoreChunk chunk;
    std::uint64_t n = 0;
    while (reader->Read(&chunk)) n += chunk.data().size();
    reply->set_bytes(n);
    return grpc::Status::OK;
  }
};

Samples raw_grpc(const RawOptions& o, std::uint64_t total) {
  grpc_transport::hold_library();
  RawService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(8 << 20);
  auto server = builder.BuildAndStart();
  if (!server) throw std::runtime_error("raw gRPC server did not start");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  auto stub = chord::v1::Chord::NewStub(
      grpc::CreateCustomChannel(fmt::format("127.0.0.1:{}", port), grpc::InsecureChannelCredentials(), args));
  Samples out;
  auto t0 = Clock::now();
  if (o.op == "ping") {
    for (unsigned i = 0; i < o.count; ++i) {
      grpc::ClientContext ctx;
      chord::v1::Empty req;
      chord::v1::Node rep;
      auto t1 = Clock::now();
      auto st = stub->Ping(&ctx, req, &rep);
      if (!st.ok()) throw std::runtime_error(st.error_message());
      out.ms.push_back(since_ms(t1));
    }
  } else {
    grpc::ClientContext ctx;
    chord::v1::StoreReply rep;
    auto writer = stub->Store(&ctx, &rep);
    chord::v1::StoreChunk chunk;
    chunk.set_data(std::string(piece, 'x'));
    for (out.bytes = 0; out.bytes < total; out.bytes += piece)
      if (!writer->Write(chunk)) throw std::runtime_error("raw gRPC stream broke");
    writer->WritesDone();
    auto st = writer->Finish();
    if (!st.ok()) throw std::runtime_error(st.error_message());
  }
  out.seconds = since_ms(t0) / 1000;
  server->Shutdown();
  return out;
}

// ---- AMQP (rabbitmq-c through the broker) ---------------------------------------------------

Samples raw_amqp(const RawOptions& o, std::uint64_t total) {
  auto broker = amqp::default_broker();
  if (!broker) throw std::runtime_error(broker.error().message);
  const std::string queue = fmt::format("raw-{}", ::getpid());
  std::unique_ptr<amqp::Link> server;
  amqp::Link::Handlers sh;
  sh.request = [&server](amqp::Message m) {
    amqp::Message reply;
    reply.routing_key = m.reply_to;
    reply.correlation_id = m.correlation_id;
    reply.type = m.type;
    if (m.body.size() <= 64) reply.body = m.body;
    server->publish(std::move(reply));
    server->ack(m);  // as the node's server does: acknowledged once answered
  };
  auto s = amqp::Link::start(*broker, queue, std::move(sh));
  if (!s) throw std::runtime_error(s.error().message);
  server = std::move(*s);
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<amqp::Message> answer;
  amqp::Link::Handlers ch;
  ch.reply = [&](amqp::Message m) {
    std::lock_guard lock(mutex);
    answer = std::move(m);
    cv.notify_all();
  };
  auto c = amqp::Link::start(*broker, "", std::move(ch));
  if (!c) throw std::runtime_error(c.error().message);
  auto call = [&](std::string body, unsigned i) {
    amqp::Message m;
    m.routing_key = queue;
    m.type = "Echo";
    m.correlation_id = std::to_string(i);
    m.reply_to = "amq.rabbitmq.reply-to";
    m.body = std::move(body);
    {
      std::lock_guard lock(mutex);
      answer.reset();
    }
    (*c)->publish(std::move(m));
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return answer.has_value(); }))
      throw std::runtime_error("raw AMQP: no reply within 10 s");
  };
  Samples out;
  auto t0 = Clock::now();
  if (o.op == "ping") {
    for (unsigned i = 0; i < o.count; ++i) {
      auto t1 = Clock::now();
      call(std::string(64, 'x'), i);
      out.ms.push_back(since_ms(t1));
    }
  } else {
    unsigned i = 0;
    for (out.bytes = 0; out.bytes < total; out.bytes += piece) call(std::string(piece, 'x'), i++);
  }
  out.seconds = since_ms(t0) / 1000;
  (*c)->stop();
  server->stop();
  return out;
}

int raw(const RawOptions& o) {
  spdlog::set_level(spdlog::level::warn);
  auto total = parse_size(o.bytes);
  if (!total) {
    std::cerr << "chordnode bench-raw: " << total.error().message << "\n";
    return Exit::usage;
  }
  Samples s;
  try {
    if (o.framework == "tcp") s = raw_tcp(o, *total);
    else if (o.framework == "http") s = raw_http(o, *total);
    else if (o.framework == "grpc") s = raw_grpc(o, *total);
    else s = raw_amqp(o, *total);
  } catch (const std::exception& e) {
    std::cerr << "chordnode bench-raw " << o.framework << ": " << e.what() << "\n";
    return Exit::failure;
  }
  auto r3 = round3;
  json::object out{{"framework", o.framework}, {"op", o.op}, {"seconds", r3(s.seconds)}};
  if (o.op == "ping") {
    const Latencies lat(std::move(s.ms));
    auto pct = [&](double p) { return lat.percentile(p); };
    out["count"] = lat.size();
    out["p50_ms"] = r3(pct(50));
    out["p90_ms"] = r3(pct(90));
    out["p99_ms"] = r3(pct(99));
    out["per_second"] = r3(static_cast<double>(lat.size()) / s.seconds);
  } else {
    out["bytes"] = s.bytes;
    out["mb_per_s"] = r3(static_cast<double>(s.bytes) / 1e6 / s.seconds);
  }
  std::cout << json::serialize(out) << "\n";
  return Exit::ok;
}

}  // namespace

void add_bench_raw(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("bench-raw", "The frameworks with no Chord on top: the floor of bench/'s rows");
  auto o = std::make_shared<RawOptions>();
  cmd->add_option("--framework", o->framework, "tcp, http, grpc or amqp")
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "http", "grpc", "amqp"}));
  cmd->add_option("--op", o->op, "ping (a small request and its reply) or stream (1 MiB pieces)")
      ->capture_default_str()
      ->check(CLI::IsMember({"ping", "stream"}));
  cmd->add_option("--count", o->count, "pings")->capture_default_str()->check(CLI::Range(1u, 10000000u));
  cmd->add_option("--bytes", o->bytes, "bytes a stream moves")->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = raw(*o); });
}

}  // namespace chord::cli
