// chordnode bench-client: the load generator of bench/. Runs COUNT operations of one kind
// (ping, lookup, put, get) against one access node, or with --to-owner each put and get against
// its key's owner, or with --cli-route each put and get as the CLI sends it, with C concurrent
// callers in one process, and prints their latency percentiles, throughput and, for lookups, the
// mean hop count. Process start-up and client set-up are outside the timed part, so that small
// operations are measured as what they cost, not as what starting a program costs.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <sys/resource.h>

#include "chord/clock.hpp"
#include "commands.hpp"
#include "registry.hpp"
#include "sim_ring.hpp"
#include "uri.hpp"
#include "latency.hpp"
#include "value_route.hpp"
#include "values.hpp"
#include "views.hpp"

namespace chord::cli {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string via;
  unsigned inproc = 0;  // >0: a ring of this many nodes in this process instead of --via
  bool samples = false;
  bool to_owner = false;  // each put and get straight to its key's owner, from a ring walked before the clock
  bool cli_route = false;  // each put and get as the CLI sends it (value_route.hpp)
  std::string op = "lookup";
  unsigned count = 1000;
  unsigned concurrency = 1;
  std::string size = "4KiB";
  std::string prefix = "bench";
  unsigned timeout_ms = 30000;
  TlsFiles tls;
};

// Counts a fetched value's bytes and drops them.
class DiscardSink final : public ChunkSink {
 public:
  asio::awaitable<Result<void>> begin(const FetchReply&) override { co_return Result<void>{}; }
  asio::awaitable<Result<void>> write(std::string chunk) override {
    bytes += chunk.size();
    co_return Result<void>{};
  }
  std::uint64_t bytes = 0;
};

struct Tally {
  std::vector<double> ms;
  double hops = 0;
  std::uint64_t bytes = 0;
  unsigned failed = 0;
  unsigned rerouted = 0;  // --to-owner: operations whose owner had gone, retried through --via
  std::optional<Error> first_error;
  unsigned next = 0;
  unsigned running = 0;
  Ring ring{160};  // the access node's, learnt before the clock starts
  // With --to-owner: the ring's nodes by id, each connected, learnt before the clock starts.
  std::vector<std::pair<Id, std::shared_ptr<ChordService>>> owners;
  // With --cli-route: the access node as it names itself, and a way to reach the holders.
  std::optional<Route> route;

  // The key's owner as the walk saw it: the first node at or after its id. A picture out of date
  // costs the node it calls a lookup (that node routes the request on), or, when that node has
  // gone, a second try through the access node.
  ChordService& target(ChordService& via, const std::string& key) const {
    if (owners.empty()) return via;
    const Id id = ring.hash(key);
    auto it = std::lower_bound(owners.begin(), owners.end(), id, [](const auto& o, const Id& k) { return o.first < k; });
    return *(it == owners.end() ? owners.front() : *it).second;
  }
};

// The owner a --to-owner client called has left since the walk (or is leaving): the access
// node finds the key's owner now.
bool gone(const Error& e) { return is_peer_failure(e.code) || e.code == Errc::not_ready; }

std::string key_of(const BenchOptions& o, std::uint64_t size, unsigned i) {
  return fmt::format("{}-{}-{}", o.prefix, size, i);
}

asio::awaitable<Result<void>> one(ChordService& via, const BenchOptions& o, std::uint64_t size,
                                  const std::vector<Digest>& digests, unsigned i, Tally& t) {
  const Timeout timeout(o.timeout_ms);
  if (o.op == "ping") {
    const Empty ask;
    auto r = co_await via.ping(ask, timeout);
    if (!r) co_return r.error();
  } else if (o.op == "lookup") {
    const LookupRequest req{key_of(o, 0, i), std::nullopt};
    auto r = co_await via.lookup(req, timeout);
    if (!r) co_return r.error();
    t.hops += r->hops;
  } else if (o.op == "put") {
    auto key = key_of(o, size, i);
    DummySource source(key, size);
    // As the CLI's: a put that reaches its node after this client gave up is not applied there.
    // (Not in process, where the nodes read a clock of their own.)
    const StoreRequest req{ValueMeta{key, t.ring.hash(key), size, digests[i], {}, false}, Role::client, false,
                           std::nullopt, o.inproc ? 0 : not_after(timeout)};
    if (t.route) {
      const std::function<void()> restart = [&] { source.rewind(); };
      auto r = co_await put_value(*t.route, req, source, restart, timeout);
      if (!r) co_return r.error();
      t.bytes += size;
      co_return Result<void>{};
    }
    ChordService& owner = t.target(via, key);
    auto r = co_await owner.store(req, source, timeout);
    if (!r && &owner != &via && gone(r.error())) {
      ++t.rerouted;
      source.rewind();
      r = co_await via.store(req, source, timeout);
    }
    if (!r) co_return r.error();
    t.bytes += size;
  } else {
    DiscardSink sink;
    auto key = key_of(o, size, i);
    const FetchRequest req{key, std::nullopt, Role::client, 0, std::nullopt};
    ChordService& owner = t.target(via, key);
    // Plain statements: g++ 12 destroys temporaries of a conditional around co_await twice.
    Result<FetchReply> r = make_error(Errc::internal, "not asked");
    if (t.route) r = co_await get_value(*t.route, key, sink, timeout);
    else r = co_await owner.fetch(req, sink, timeout);
    if (!r && !t.route && &owner != &via && gone(r.error())) {
      ++t.rerouted;
      sink.bytes = 0;
      r = co_await via.fetch(req, sink, timeout);
    }
    if (!r) co_return r.error();
    if (sink.bytes != r->meta.size)
      co_return make_error(Errc::internal, fmt::format("got {} of {} bytes", sink.bytes, r->meta.size));
    t.bytes += sink.bytes;
  }
  co_return Result<void>{};
}

// One caller: takes the next operation until none is left.
asio::awaitable<void> worker(std::shared_ptr<ChordService> via, const BenchOptions& o, std::uint64_t size,
                             const std::vector<Digest>& digests, Tally& t) {
  while (t.next < o.count) {
    unsigned i = t.next++;
    auto t0 = Clock::now();
    auto r = co_await one(*via, o, size, digests, i, t);
    if (!r) {
      ++t.failed;
      if (!t.first_error) t.first_error = r.error();
      continue;
    }
    t.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  --t.running;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// Walks the ring from via and connects to every node, as a client that keeps the ring's picture
// does; one untimed ping each sets the connections up.
asio::awaitable<Result<void>> learn_owners(ChordService& via, Connector& connector, const BenchOptions& o, Tally& t) {
  auto walk = co_await views::walk_ring(via, connector, 1 << 16, Timeout(o.timeout_ms));
  if (walk.broken) co_return *walk.broken;
  for (const auto& n : walk.nodes) {
    auto c = connector.connect_to(n.self.uri);
    if (!c) co_return c.error();
    const Empty ask;
    if (auto pong = co_await (*c)->ping(ask, Timeout(o.timeout_ms)); !pong) co_return pong.error();
    t.owners.emplace_back(n.self.id, std::move(*c));
  }
  std::sort(t.owners.begin(), t.owners.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  co_return Result<void>{};
}

// Runs one kind of operation to the end on io and returns its JSON line, or the error if none
// succeeded.
Result<json::object> run_op(asio::io_context& io, std::shared_ptr<ChordService> via, Connector& connector, BenchOptions o) {
  std::uint64_t size = 0;
  if (o.op == "put" || o.op == "get") {
    auto s = parse_size(o.size);
    if (!s) return s.error();
    size = *s;
  }
  std::vector<Digest> digests;
  if (o.op == "put")  // hashed before the clock starts: the value's digest travels in its header
    for (unsigned i = 0; i < o.count; ++i) digests.push_back(DummySource(key_of(o, size, i), size).sha256());

  Tally t;
  double seconds = 0, cpu = 0;
  auto main_task = [&]() -> asio::awaitable<void> {
    // One untimed call first: connections are set up outside the measurement.
    const Empty ask;
    auto info = co_await via->node_info(ask, Timeout(o.timeout_ms));
    if (!info) {
      t.first_error = info.error();
      co_return;
    }
    t.ring = Ring(info->bits);
    if (o.cli_route) t.route.emplace(Route{*via, info->self, connector});
    if (o.to_owner && (o.op == "put" || o.op == "get")) {
      if (auto learnt = co_await learn_owners(*via, connector, o, t); !learnt) {
        t.first_error = learnt.error();
        co_return;
      }
    }
    auto t0 = Clock::now();
    auto cpu0 = cpu_seconds();
    // A worker may run to its end inside co_spawn (a call that never suspends, in process), so
    // the loop counts on its own.
    const unsigned callers = std::max(1u, o.concurrency);
    t.running = callers;
    for (unsigned c = 0; c < callers; ++c)
      asio::co_spawn(io, worker(via, o, size, digests, t), asio::detached);
    asio::steady_timer tick(io);
    while (t.running > 0) {
      tick.expires_after(std::chrono::milliseconds(1));
      co_await tick.async_wait(asio::use_awaitable);
    }
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    cpu = cpu_seconds() - cpu0;
  };
  asio::co_spawn(io, main_task(), asio::detached);
  io.restart();
  io.run();

  if (t.ms.empty())
    return make_error(t.first_error ? t.first_error->code : Errc::internal,
                      fmt::format("no {} succeeded{}", o.op, t.first_error ? ": " + t.first_error->message : ""));
  const double ok = static_cast<double>(t.ms.size());
  json::array samples;
  if (o.samples)
    for (double ms : t.ms) samples.push_back(round3(ms));
  const Latencies lat(std::move(t.ms));
  auto pct = [&](double p) { return lat.percentile(p); };
  auto r3 = round3;
  json::object out{{"op", o.op},
                   {"via", o.via},
                   {"transport", o.inproc ? std::string("inproc") : wire::scheme_of(o.via)},
                   {"count", o.count},
                   {"ok", lat.size()},
                   {"failed", t.failed},
                   {"concurrency", o.concurrency},
                   {"to_owner", !t.owners.empty()},
                   {"cli_route", t.route.has_value()},
                   {"rerouted", t.rerouted},
                   {"seconds", r3(seconds)},
                   {"per_second", r3(ok / seconds)},
                   {"p50_ms", r3(pct(50))},
                   {"p90_ms", r3(pct(90))},
                   {"p99_ms", r3(pct(99))},
                   {"client_cpu_ms_per_op", r3(cpu * 1e3 / ok)}};
  if (o.op == "lookup") out["hops_mean"] = r3(t.hops / ok);
  if (size > 0) {
    out["size"] = size;
    out["mb_per_s"] = r3(static_cast<double>(t.bytes) / 1e6 / seconds);
  }
  if (t.first_error) out["first_error"] = t.first_error->message;
  if (o.samples) out["samples_ms"] = std::move(samples);
  return out;
}

// Runs each operation of --op (a comma-separated list, in order, on the same ring) and prints
// one JSON line for each.
int run_all(asio::io_context& io, const std::shared_ptr<ChordService>& via, Connector& connector, const BenchOptions& o) {
  int code = Exit::ok;
  for (const auto& op : split_list(o.op)) {
    BenchOptions one = o;
    one.op = op;
    auto r = run_op(io, via, connector, one);
    if (!r) {
      std::cerr << "chordnode bench-client: " << r.error().message << "\n";
      return exit_code_of(r.error());
    }
    std::cout << json::serialize(*r) << std::endl;
    if (r->at("failed").to_number<std::uint64_t>() > 0) code = Exit::failure;
  }
  return code;
}

int bench(const BenchOptions& o) {
  spdlog::set_level(spdlog::level::warn);
  for (const auto& op : split_list(o.op)) {
    if (op != "ping" && op != "lookup" && op != "put" && op != "get") {
      std::cerr << "chordnode bench-client: unknown --op '" << op << "' (ping, lookup, put, get)\n";
      return Exit::usage;
    }
  }
  if (o.via.empty() == (o.inproc == 0)) {
    std::cerr << "chordnode bench-client: give either --via URI or --inproc N\n";
    return Exit::usage;
  }
  if (o.inproc > 0) {
    // The floor: the same engine and calls with no transport at all (an ideal ring, messages
    // handed over in memory, one thread).
    sim::SimRing ring(sim::RingOptions{});
    for (unsigned i = 0; i < o.inproc; ++i) ring.add();
    ring.build_ideal();
    auto via = ring.network().connect(ring.nodes()[o.inproc > 1 ? 1 : 0]->self().uri);
    return run_all(ring.io(), *via, ring.network(), o);
  }
  auto tls = TlsConfig::load(o.tls);
  if (!tls) {
    std::cerr << "chordnode bench-client: " << tls.error().message << "\n";
    return Exit::usage;
  }
  asio::io_context io;
  auto registry = make_registry(io.get_executor(), Credentials{.key = nullptr, .token = {}, .tls = *tls});
  auto via = registry->connect(o.via);
  if (!via) {
    std::cerr << "chordnode bench-client: " << via.error().message << "\n";
    return exit_code_of(via.error());
  }
  int code = run_all(io, *via, *registry, o);
  registry->close();
  return code;
}

}  // namespace

void add_bench_client(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("bench-client", "Load generator of bench/: timed operations against one node");
  auto o = std::make_shared<BenchOptions>();
  cmd->add_option("--via", o->via, "URI of the access node");
  cmd->add_option("--inproc", o->inproc, "instead of --via: an ideal ring of N nodes in this process, no transport (the floor)")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--op", o->op, "ping, lookup, put or get; or several in order, e.g. put,get (one JSON line each)")
      ->capture_default_str();
  cmd->add_flag("--samples", o->samples, "add every latency (ms, in completion order) to the JSON line");
  cmd->add_flag("--to-owner", o->to_owner,
                "send each put and get to its key's owner, from a walk of the ring before the clock starts "
                "(a client that keeps the ring's picture); default: every call through --via");
  auto* route = cmd->add_flag("--cli-route", o->cli_route,
                              "send each put and get as the CLI does: values of 4 MiB and more between this client and "
                              "their holder, which --via names");
  route->excludes("--to-owner");
  cmd->add_option("--count", o->count, "operations in all")->capture_default_str()->check(CLI::Range(1u, 10000000u));
  cmd->add_option("--concurrency", o->concurrency, "callers at once")->capture_default_str()->check(CLI::Range(1u, 1024u));
  cmd->add_option("--size", o->size, "value size of put and get")->capture_default_str();
  cmd->add_option("--prefix", o->prefix, "key prefix (get reads what a put with the same prefix wrote)")->capture_default_str();
  cmd->add_option("--timeout-ms", o->timeout_ms, "deadline of each operation")->capture_default_str();
  tls_options(cmd, o->tls);
  cmd->callback([o, &exit_code] { exit_code = bench(*o); });
}

}  // namespace chord::cli
