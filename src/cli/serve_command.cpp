// chordnode serve: one node on a network transport until SIGINT/SIGTERM, then a graceful leave.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <iostream>
#include <thread>

#include "chord/secret_file.hpp"
#include "chord/node.hpp"
#include "commands.hpp"
#include "data_dir_age.hpp"
#include "grpc_transport.hpp"
#include "registry.hpp"
#include "sharer.hpp"
#include "amqp_transport.hpp"
#include "rest_transport.hpp"
#include "user_api.hpp"
#include "values.hpp"
#include "uri.hpp"

namespace chord::cli {
namespace {

struct ServeOptions {
  std::string transport = "grpc";
  std::vector<std::string> listen;
  std::string amqp_url;
  std::string advertise;
  std::vector<std::string> join;
  unsigned bits = 160;
  unsigned successors = 16;
  unsigned replicas = 3;
  unsigned write_quorum = 0;
  unsigned read_quorum = 0;
  unsigned tombstone_grace_s = 10 * 24 * 3600;
  unsigned stabilize_ms = 500;
  unsigned rpc_timeout_ms = 2000;
  unsigned join_timeout_s = 30;
  unsigned shutdown_timeout_s = 10;
  std::string data_dir;
  std::string http;
  std::string http_max_body = "1GiB";
  std::string log_level = "info";
  unsigned vnodes = 1;
  std::string config;
  unsigned max_connections = 512;
  unsigned max_transfers_per_peer = 64;
  std::string share;
  unsigned share_ttl_s = 300;
  std::string cluster_key;
  std::string client_token;
  TlsFiles tls;
  double peer_rate = 1000;
  bool insecure = false;
};

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}



// One node's server, whatever carries it.
class Served {
 public:
  virtual ~Served() = default;
  // Stops taking calls; calls in flight get a moment to finish. The I/O thread must still run.
  virtual void shutdown() = 0;
};

template <class S>
class ServedBy final : public Served {
 public:
  explicit ServedBy(std::unique_ptr<S> s) : s_(std::move(s)) {}
  void shutdown() override {
    if constexpr (requires { s_->shutdown(std::chrono::milliseconds(1000)); })
      s_->shutdown(std::chrono::milliseconds(1000));
    else
      s_->shutdown();
  }

 private:
  std::unique_ptr<S> s_;
};

Result<std::unique_ptr<Served>> start_server(const std::string& transport, const std::string& listen,
                                             asio::any_io_executor ex, std::shared_ptr<ChordService> node,
                                             const NodeConfig& cfg, const amqp::Broker& broker,
                                             std::shared_ptr<http_api::Metrics> metrics, const ServeOptions& o,
                                             const Credentials& credentials, std::shared_ptr<PeerRate> peer_rate) {
  if (transport == "amqp") {
    amqp::Limits limits;
    limits.chunk_bytes = cfg.chunk_bytes;
    limits.max_transfers_per_peer = o.max_transfers_per_peer;
    if (metrics) limits.refused = [metrics](const std::string& reason) { metrics->refused("amqp", reason); };
    present(credentials, limits);
    limits.peer_rate = peer_rate;
    limits.peer_rate = peer_rate;
    auto s = amqp::Server::start(listen, broker, ex, node, limits, cfg.rpc_timeout);
    if (!s) return s.error();
    return std::unique_ptr<Served>(std::make_unique<ServedBy<amqp::Server>>(std::move(*s)));
  }
  if (transport == "rest") {
    rest::Limits limits;
    limits.chunk_bytes = cfg.chunk_bytes;
    limits.max_connections = o.max_connections;
    limits.max_transfers_per_peer = o.max_transfers_per_peer;
    if (metrics) limits.refused = [metrics](const std::string& reason) { metrics->refused("rest", reason); };
    present(credentials, limits);
    limits.peer_rate = peer_rate;
    limits.peer_rate = peer_rate;
    auto s = rest::Server::start(listen, ex, node, limits, cfg.rpc_timeout);
    if (!s) return s.error();
    if (metrics) metrics->watch_listener(fmt::format("rest {}", listen), (*s)->counter_source());
    return std::unique_ptr<Served>(std::make_unique<ServedBy<rest::Server>>(std::move(*s)));
  }
  grpc_transport::Limits limits;
  limits.chunk_bytes = cfg.chunk_bytes;
  limits.max_transfers_per_peer = o.max_transfers_per_peer;
  if (metrics) limits.refused = [metrics](const std::string& reason) { metrics->refused("grpc", reason); };
  present(credentials, limits);
  limits.peer_rate = peer_rate;
  auto s = grpc_transport::Server::start(listen, ex, node, limits, cfg.rpc_timeout);
  if (!s) return s.error();
  return std::unique_ptr<Served>(std::make_unique<ServedBy<grpc_transport::Server>>(std::move(*s)));
}

// One of this process's virtual nodes with its servers.
struct Hosted {
  std::string uri;                  // what the ring knows it by
  std::vector<std::string> listen;  // what each transport's server binds
  std::shared_ptr<Node> node;
  std::vector<std::unique_ptr<Served>> servers;
};

int serve(const ServeOptions& o) {
  auto level = spdlog::level::from_str(o.log_level);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");

  // Several transports: --transport grpc,rest with one --listen each, in that order. The node
  // is known to the ring by the first one's URI (or --advertise); the others answer as well.
  const std::vector<std::string> transports = split_list(o.transport);
  for (std::size_t i = 0; i < transports.size(); ++i) {
    const auto& t = transports[i];
    if (t != "grpc" && t != "rest" && t != "amqp") {
      std::cerr << "chordnode serve: unknown transport '" << t << "' (grpc, rest, amqp)\n";
      return Exit::usage;
    }
    if (std::find(transports.begin(), transports.begin() + static_cast<long>(i), t) != transports.begin() + static_cast<long>(i)) {
      std::cerr << "chordnode serve: transport '" << t << "' given twice\n";
      return Exit::usage;
    }
  }
  if (o.listen.size() != transports.size()) {
    std::cerr << "chordnode serve: give --listen once per transport, in the order of --transport (" << transports.size()
              << " transports, " << o.listen.size() << " --listen)\n";
    return Exit::usage;
  }
  auto tls = TlsConfig::load(o.tls);
  if (!tls) {
    std::cerr << "chordnode serve: " << tls.error().message << "\n";
    return Exit::usage;
  }
  if (!o.amqp_url.empty()) setenv("CHORD_AMQP_URL", o.amqp_url.c_str(), 1);  // for this node's AMQP client too
  auto broker = amqp::default_broker();
  std::vector<std::string> uris;
  for (std::size_t i = 0; i < transports.size(); ++i) {
    if (transports[i] == "amqp") {
      if (!broker) {
        std::cerr << "chordnode serve: " << broker.error().message << "\n";
        return Exit::usage;
      }
      if (broker->tls && !*tls) {
        std::cerr << "chordnode serve: the broker is reached over TLS (amqps://): give --tls-cert, --tls-key and --tls-ca\n";
        return Exit::usage;
      }
      uris.push_back(amqp::node_uri(*broker, o.listen[i]));
      continue;
    }
    auto listen = wire::parse_host_port(o.listen[i]);
    if (!listen || listen->port == 0) {
      std::cerr << "chordnode serve: --listen of " << transports[i] << " needs HOST:PORT with a port other than 0\n";
      return Exit::usage;
    }
    uris.push_back(transport_scheme(transports[i], *tls != nullptr) + "://" + listen->host_port());
  }
  const std::string scheme = wire::scheme_of(uris[0]);
  std::string uri = o.advertise.empty() ? uris[0] : o.advertise;
  if (auto ep = wire::parse_endpoint(uri); !ep || ep->scheme != scheme) {
    std::cerr << "chordnode serve: --advertise must be a " << scheme << ":// URI, got '" << uri << "'\n";
    return Exit::usage;
  }

  std::shared_ptr<const ClusterKey> cluster_key;
  if (!o.cluster_key.empty()) {
    auto key = ClusterKey::load(o.cluster_key);
    if (!key) {
      std::cerr << "chordnode serve: --cluster-key: " << key.error().message << "\n";
      return Exit::usage;
    }
    cluster_key = *key;
  } else if (!o.insecure) {
    // Protected mode: without a cluster key anyone who reaches the node can take part in the
    // ring, which is acceptable only where nobody else can reach it. A TLS listener takes only
    // holders of a certificate of the ring's CA; a broker, TLS or not, takes whoever its own
    // users are.
    std::vector<std::string> exposed;
    for (std::size_t i = 0; i < transports.size(); ++i) {
      if (transports[i] == "amqp") {
        if (!loopback_host(broker->host)) exposed.push_back("the AMQP broker " + broker->host);
        continue;
      }
      if (auto l = wire::parse_host_port(o.listen[i]); l && !loopback_host(l->host) && !*tls)
        exposed.push_back(o.listen[i]);
    }
    if (!exposed.empty()) {
      std::cerr << "chordnode serve: " << fmt::format("{}", fmt::join(exposed, ", "))
                << " can be reached from other machines, and without --cluster-key anyone there could join the "
                   "ring, take over key ranges and rewrite replicas. Give every node the same --cluster-key FILE "
                   "(openssl rand -hex 32 > FILE; chmod 600 FILE), or TLS (--tls-cert, --tls-key, --tls-ca), or "
                   "--insecure on a network you trust.\n";
      return Exit::usage;
    }
  }

  std::string client_token;
  if (!o.client_token.empty()) {
    // Without a cluster key every caller counts as a member, and members write without a token.
    if (!cluster_key) {
      std::cerr << "chordnode serve: --client-token needs --cluster-key: without it anyone can call as a member of "
                   "the ring and write without the token\n";
      return Exit::usage;
    }
    auto token = read_secret_file(o.client_token, "client token", 16);
    if (!token) {
      std::cerr << "chordnode serve: --client-token: " << token.error().message << "\n";
      return Exit::usage;
    }
    client_token = *token;
  }

  std::uint64_t http_max_body = 0;
  if (!o.http.empty()) {
    auto n = parse_size(o.http_max_body);
    if (!n) {
      std::cerr << "chordnode serve: --http-max-body: " << n.error().message << "\n";
      return Exit::usage;
    }
    http_max_body = *n;
  }

  asio::io_context io;
  // A node's own calls carry the key; the client token is for clients, and members prove the key.
  const Credentials credentials{.key = cluster_key, .token = client_token, .tls = *tls};
  // One bucket per caller for the whole process, whichever transport or virtual node it calls.
  auto peer_rate = o.peer_rate > 0 ? std::make_shared<PeerRate>(o.peer_rate, 2 * o.peer_rate) : nullptr;
  auto registry = make_registry(io.get_executor(), Credentials{.key = cluster_key, .token = {}, .tls = *tls});
  // With --http the node's calls are metered: outgoing through the connector, incoming at the server.
  std::shared_ptr<http_api::Metrics> metrics;
  std::unique_ptr<Connector> metered;
  if (!o.http.empty()) {
    metrics = std::make_shared<http_api::Metrics>();
    metered = metrics->meter(*registry);
  }
  Connector& connector = metered ? *metered : static_cast<Connector&>(*registry);
  Ring ring(o.bits);
  NodeConfig cfg;
  cfg.successors = o.successors;
  cfg.replicas = o.replicas;
  if (o.write_quorum > o.replicas || o.read_quorum > o.replicas) {
    std::cerr << "chordnode serve: --write-quorum and --read-quorum must be at most --replicas (" << o.replicas << ")\n";
    return Exit::usage;
  }
  cfg.write_quorum = o.write_quorum;
  cfg.read_quorum = o.read_quorum;
  cfg.tombstone_grace = std::chrono::seconds(o.tombstone_grace_s);
  cfg.stabilize_interval = std::chrono::milliseconds(o.stabilize_ms);
  cfg.fix_fingers_interval = std::chrono::milliseconds(std::max(1u, o.stabilize_ms / 2));
  cfg.check_predecessor_interval = std::chrono::milliseconds(o.stabilize_ms * 2);
  cfg.replicate_interval = std::chrono::milliseconds(o.stabilize_ms * 4);
  cfg.rpc_timeout = std::chrono::milliseconds(o.rpc_timeout_ms);
  cfg.suspect_for = std::chrono::milliseconds(std::max(1000u, o.stabilize_ms * 4));
  cfg.authentic_ids = true;  // every node's id is the hash of its URI: peers check it
  if (!o.data_dir.empty()) {
    if (auto fresh = check_data_dir_age(o.data_dir, std::chrono::seconds(o.tombstone_grace_s)); !fresh) {
      std::cerr << "chordnode serve: " << fresh.error().message << "\n";
      return Exit::failure;
    }
    mark_data_dir_up(o.data_dir);
  }
  // The paper's virtual nodes: V Chord nodes in this process, each a plain node to its peers,
  // at its own endpoints (PORT+i, QUEUE-v<i>). The first is the access point of the HTTP API.
  std::vector<Hosted> hosted(o.vnodes);
  for (unsigned v = 0; v < o.vnodes; ++v) {
    auto& h = hosted[v];
    auto vuri = wire::virtual_uri(uri, v);
    if (!vuri) {
      std::cerr << "chordnode serve: --vnodes: " << vuri.error().message << "\n";
      return Exit::usage;
    }
    h.uri = *vuri;
    for (std::size_t i = 0; i < transports.size(); ++i) {
      auto served_uri = wire::virtual_uri(uris[i], v);
      if (!served_uri) {
        std::cerr << "chordnode serve: --vnodes: " << served_uri.error().message << "\n";
        return Exit::usage;
      }
      auto ep = wire::parse_endpoint(*served_uri);
      h.listen.push_back(transports[i] == "amqp" ? ep->path : ep->host_port());
    }
    std::unique_ptr<Store> store;
    if (o.data_dir.empty()) store = make_memory_store();
    else store = make_disk_store(v == 0 ? o.data_dir : o.data_dir + "/vnode-" + std::to_string(v));
    h.node = std::make_shared<Node>(io.get_executor(), ring, NodeRef{ring.hash(h.uri), h.uri}, cfg, connector,
                                    std::move(store), o.transport);
    if (metrics) h.node->set_observer(metrics);
    for (std::size_t i = 0; i < transports.size(); ++i) {
      auto served = metrics ? metrics->meter(h.node, "in", transports[i]) : std::shared_ptr<ChordService>(h.node);
      auto server = start_server(transports[i], h.listen[i], io.get_executor(), served, cfg,
                                 broker ? *broker : amqp::Broker{}, metrics, o, credentials, peer_rate);
      if (!server) {
        std::cerr << "chordnode serve: " << server.error().message << "\n";
        return Exit::unreachable;
      }
      h.servers.push_back(std::move(*server));
    }
  }
  auto node = hosted[0].node;
  // The folder is the first virtual node's: one holder per process, whatever --vnodes says.
  std::shared_ptr<share::Sharer> sharer;
  if (!o.share.empty()) {
    share::ShareOptions options;
    options.dir = o.share;
    options.ttl = std::chrono::seconds(o.share_ttl_s);
    options.timeout = std::max(cfg.rpc_timeout * 2, Timeout(5000));
    auto made = share::Sharer::create(node, options);
    if (!made) {
      std::cerr << "chordnode serve: " << made.error().message << "\n";
      return Exit::usage;
    }
    sharer = std::move(*made);
  }
  std::unique_ptr<http_api::UserApi> api;
  if (!o.http.empty()) {
    http_api::ApiOptions options;
    options.max_buffered_body = http_max_body;
    options.max_connections = o.max_connections;
    options.client_token = client_token;
    options.timeout = std::max(cfg.rpc_timeout * 5, Timeout(10000));
    auto started = http_api::UserApi::start(o.http, io.get_executor(), node, connector, metrics, options);
    if (!started) {
      std::cerr << "chordnode serve: --http: " << started.error().message << "\n";
      return Exit::unreachable;
    }
    api = std::move(*started);
  }

  // While the node runs its data dir stays marked as in use (see data_dir_age.hpp).
  asio::steady_timer up_mark(io);
  std::function<void()> mark_up = [&] {
    up_mark.expires_after(std::min<std::chrono::seconds>(std::chrono::seconds(60),
                                                         std::chrono::seconds(std::max(1u, o.tombstone_grace_s / 4))));
    up_mark.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      mark_data_dir_up(o.data_dir);
      mark_up();
    });
  };
  if (!o.data_dir.empty()) mark_up();

  int code = Exit::ok;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::promise<void> finished;
  bool leaving = false;
  // The leave gets most of the shutdown's time; stopping the servers and clients the rest.
  const auto shutdown_timeout = std::chrono::seconds(o.shutdown_timeout_s);
  const auto leave_budget = std::max<std::chrono::milliseconds>(shutdown_timeout * 3 / 4, std::chrono::milliseconds(500));
  auto shutdown = [&](bool graceful) -> asio::awaitable<void> {
    if (std::exchange(leaving, true)) co_return;
    // The shared files' entries go first, while the node still takes writes; a third of the
    // leave's time at most (left over, they expire with their TTL).
    if (sharer && graceful && node->joined())
      co_await sharer->withdraw(std::chrono::steady_clock::now() + leave_budget / 3);
    // All of this process's virtual nodes refuse hand-offs first, so that none hands its keys
    // to another that is about to leave.
    for (auto& h : hosted)
      if (h.node->joined()) h.node->begin_leave();
    const auto deadline = std::chrono::steady_clock::now() + leave_budget;
    for (auto& h : hosted) {
      if (!h.node->joined() || !graceful) continue;
      auto r = co_await h.node->leave(deadline);
      if (!r) {
        spdlog::error("leave of {}: {}", h.uri, r.error().message);
        code = Exit::failure;
      }
    }
    finished.set_value();
  };
  // First signal: a graceful leave, bounded by --shutdown-timeout whatever peers and clients do
  // (a watchdog ends the process when it is up). A second signal ends it at once.
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (leaving) {
          spdlog::warn("signal {} again: exiting now, without finishing the leave", sig);
          spdlog::default_logger()->flush();
          std::_Exit(Exit::failure);
        }
        spdlog::info("signal {}: leaving the ring (at most {} s)", sig, o.shutdown_timeout_s);
        std::thread([shutdown_timeout] {
          std::this_thread::sleep_for(shutdown_timeout);
          std::fprintf(stderr, "chordnode serve: shutdown did not finish within %lld s; exiting now\n",
                       static_cast<long long>(shutdown_timeout.count()));
          std::_Exit(Exit::failure);
        }).detach();
        signals.async_wait(on_signal);
        asio::co_spawn(io, shutdown(true), asio::detached);
      };
  signals.async_wait(on_signal);

  std::vector<std::string> seeds;
  for (const auto& j : o.join)
    for (auto& s : split_list(j))
      if (!s.empty()) seeds.push_back(std::move(s));
  // Named, not a temporary: a coroutine lambda's captures live in the lambda object.
  auto begin = [&]() -> asio::awaitable<void> {
    for (auto& h : hosted) {
      // The other virtual nodes join through the first, which is in the ring by then. Named:
      // a temporary inside a co_await expression is a g++ 12 hazard.
      const std::vector<std::string> through = &h == &hosted[0] ? seeds : std::vector<std::string>{hosted[0].uri};
      auto r = co_await join_cluster(h.node, through, std::chrono::seconds(o.join_timeout_s));
      if (!r) {
        spdlog::error("{} did not join: {}", h.uri, r.error().message);
        code = exit_code_of(r.error());
        co_await shutdown(h.node != node);
        co_return;
      }
      h.node->start();
    }
    if (sharer) sharer->start();
    std::cout << "ready id=" << ring.hex(node->self().id) << " uri=" << uri;
    if (api) std::cout << " http=http://" << wire::parse_host_port(o.http)->host << ":" << api->port();
    if (uris.size() > 1) {
      std::cout << " serves=";
      for (std::size_t i = 0; i < uris.size(); ++i) std::cout << (i ? "," : "") << uris[i];
    }
    if (hosted.size() > 1) {
      std::cout << " vnodes=";
      for (std::size_t v = 1; v < hosted.size(); ++v) std::cout << (v > 1 ? "," : "") << hosted[v].uri;
    }
    std::cout << std::endl;
  };
  asio::co_spawn(io, begin(), asio::detached);

  // The node runs on one I/O thread. The gRPC server is shut down from this thread while that
  // one still runs, so that calls in flight can finish: Shutdown waits for them.
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  finished.get_future().wait();
  if (api) api->shutdown();
  for (auto& h : hosted)
    for (auto& s : h.servers) s->shutdown();
  registry->close();  // outgoing calls end while the I/O thread can still deliver their completions
  work.reset();
  io.stop();
  runner.join();
  return code;
}

}  // namespace

void add_serve(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Run one Chord node until SIGINT/SIGTERM (then leave gracefully)");
  auto o = std::make_shared<ServeOptions>();
  // Read by expand_config before CLI11 parses (see config_file.hpp); declared here for --help.
  cmd->add_option("--config", o->config,
                  "read options from FILE (TOML, or INI if it ends in .ini): the flags' names without --; "
                  "flags on the command line override it");
  cmd->add_option("--transport", o->transport,
                  "grpc (grpc://HOST:PORT), rest (http://HOST:PORT), amqp (amqp://BROKER:PORT/QUEUE), or several: grpc,rest")
      ->capture_default_str();
  cmd->add_option("--listen", o->listen, "HOST:PORT to bind (amqp: the QUEUE name); once per transport, in order")
      ->required();
  cmd->add_option("--amqp-url", o->amqp_url,
                  "the broker, amqp://USER:PASS@HOST:PORT/VHOST (default: $CHORD_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/)");
  cmd->add_option("--advertise", o->advertise, "URI peers use to reach this node (default: from --listen)");
  cmd->add_option("--join", o->join,
                  "seed: URI of a node of the ring to join, several as a comma list or given again (tried in "
                  "turn, retried while none is in a ring yet); none: start a new ring. When the first seed is this "
                  "node, it starts the ring if no other seed is in one");
  cmd->add_option("--bits", o->bits, "m: ids have m bits (every node of a ring must agree)")
      ->capture_default_str()
      ->check(CLI::Range(3u, 160u));
  cmd->add_option("--successors", o->successors, "r: successor list length")->capture_default_str()->check(CLI::Range(1u, 256u));
  cmd->add_option("--replicas", o->replicas, "k: copies of each key")->capture_default_str()->check(CLI::Range(1u, 64u));
  cmd->add_option("--write-quorum", o->write_quorum,
                  "W: copies that must hold a put or delete before it is acknowledged (0: a majority of k)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 64u));
  cmd->add_option("--read-quorum", o->read_quorum,
                  "R: holders a get asks, returning the newest version (0: a majority of k)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 64u));
  cmd->add_option("--tombstone-grace", o->tombstone_grace_s,
                  "seconds a delete's tombstone is kept; a copy away for longer may bring the key back")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 30));
  cmd->add_option("--stabilize-ms", o->stabilize_ms, "stabilize period; fix_fingers runs twice as often (every 4th period once the fingers settle), check_predecessor half")
      ->capture_default_str()
      ->check(CLI::Range(10u, 600000u));
  cmd->add_option("--rpc-timeout-ms", o->rpc_timeout_ms, "deadline of every call to a peer")
      ->capture_default_str()
      ->check(CLI::Range(10u, 600000u));
  cmd->add_option("--join-timeout", o->join_timeout_s,
                  "seconds to keep retrying the join while no seed is up and part of a ring; then exit non-zero")
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout_s,
                  "on SIGINT/SIGTERM, seconds the graceful leave may take before the process exits anyway "
                  "(a second signal exits at once)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3600u));
  cmd->add_option("--vnodes", o->vnodes,
                  "virtual nodes: run V Chord nodes here, node i at PORT+i (grpc, rest) or QUEUE-v<i> (amqp)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  cmd->add_option("--data-dir", o->data_dir,
                  "keep values in this directory across restarts (default: memory); virtual node i>0 in DIR/vnode-i");
  cmd->add_option("--http", o->http, "HOST:PORT of the user HTTP API, /metrics and the ring page (any transport)");
  cmd->add_option("--http-max-body", o->http_max_body,
                  "largest PUT body the HTTP API holds in memory to hash (streamed PUTs with X-Content-SHA256 are bounded by the node's value limit)")
      ->capture_default_str();
  cmd->add_option("--max-connections", o->max_connections,
                  "connections each HTTP listener (REST transport, --http) serves at once; more wait in the OS backlog")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  cmd->add_option("--max-transfers-per-peer", o->max_transfers_per_peer,
                  "Store transfers one peer (IP address; AMQP: connection) may have in flight; past it: resource_exhausted")
      ->capture_default_str()
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--share", o->share,
                  "share the regular files of DIR (top level; names with '/', '..' or NUL and links that leave DIR "
                  "are not): indexed in the ring by name and by word, served to `fetch`, watched for changes");
  cmd->add_option("--share-ttl", o->share_ttl_s,
                  "seconds a shared file's entry lives unless republished (every third of it); a holder that dies "
                  "drops out of search after this")
      ->capture_default_str()
      ->check(CLI::Range(3u, 7u * 24 * 3600));
  cmd->add_option("--cluster-key", o->cluster_key,
                  "FILE holding the ring's secret (at least 32 bytes, not readable by others): every call between "
                  "nodes carries an HMAC of it, and ring maintenance and replica traffic without one are refused; "
                  "default $CHORD_CLUSTER_KEY_FILE")
      ->envname("CHORD_CLUSTER_KEY_FILE");
  cmd->add_option("--client-token", o->client_token,
                  "FILE holding a token (at least 16 bytes, not readable by others) that client writes must present: "
                  "put and delete over any transport and the HTTP API's PUT and DELETE; reads stay open; needs "
                  "--cluster-key; default $CHORD_CLIENT_TOKEN_FILE")
      ->envname("CHORD_CLIENT_TOKEN_FILE");
  tls_options(cmd, o->tls);
  cmd->add_option("--peer-rate", o->peer_rate,
                  "calls per second (bursts of twice that) one caller may make that does not prove --cluster-key; "
                  "past it calls are refused (resource_exhausted). Members are never limited; 0: no limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--insecure", o->insecure,
                "run without --cluster-key on an address other machines can reach (anyone there can join the ring)");
  cmd->add_option("--log-level", o->log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->callback([o, &exit_code] { exit_code = serve(*o); });
}

}  // namespace chord::cli
