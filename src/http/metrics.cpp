#include "metrics.hpp"

#include "chord/tls.hpp"

#include <chrono>

#include <prometheus/text_serializer.h>

#include "uri.hpp"

namespace chord::http_api {

namespace {

prometheus::Histogram::BucketBoundaries latency_buckets() {
  // 50 us .. ~26 s, doubling: loopback hops are sub-millisecond, a large value's last chunk
  // can take seconds.
  prometheus::Histogram::BucketBoundaries b;
  for (double s = 50e-6; s < 30; s *= 2) b.push_back(s);
  return b;
}

std::string outcome_of(const Error* e) { return e ? std::string(to_string(e->code)) : "ok"; }

// A ChordService that records each call it passes on.
class Metered final : public ChordService {
 public:
  Metered(std::shared_ptr<ChordService> inner, std::shared_ptr<Metrics> metrics, std::string direction,
          std::string transport)
      : inner_(std::move(inner)), metrics_(std::move(metrics)), direction_(std::move(direction)),
        transport_(std::move(transport)) {}

#define CHORD_METERED_RPC(fn, Name, Req, Rep)                                  \
  asio::awaitable<Result<Rep>> fn(const Req& req, Timeout timeout) override { \
    auto t0 = std::chrono::steady_clock::now();                                \
    auto r = co_await inner_->fn(req, timeout);                                \
    record(#Name, r ? nullptr : &r.error(), t0);                               \
    co_return r;                                                               \
  }
  CHORD_UNARY_RPCS(CHORD_METERED_RPC)
#undef CHORD_METERED_RPC

  asio::awaitable<Result<StoreReply>> store(const StoreRequest& req, ChunkSource& chunks, Timeout timeout) override {
    auto t0 = std::chrono::steady_clock::now();
    auto r = co_await inner_->store(req, chunks, timeout);
    record("Store", r ? nullptr : &r.error(), t0);
    co_return r;
  }
  asio::awaitable<Result<FetchReply>> fetch(const FetchRequest& req, ChunkSink& sink, Timeout timeout) override {
    auto t0 = std::chrono::steady_clock::now();
    auto r = co_await inner_->fetch(req, sink, timeout);
    record("Fetch", r ? nullptr : &r.error(), t0);
    co_return r;
  }

 private:
  void record(const char* method, const Error* e, std::chrono::steady_clock::time_point t0) {
    metrics_->record_call(method, direction_, transport_, outcome_of(e),
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::shared_ptr<ChordService> inner_;
  std::shared_ptr<Metrics> metrics_;
  std::string direction_;
  std::string transport_;
};

class MeteredConnector final : public Connector {
 public:
  MeteredConnector(Connector& inner, std::shared_ptr<Metrics> metrics) : inner_(inner), metrics_(std::move(metrics)) {}
  Result<std::shared_ptr<ChordService>> connect(const std::string& uri) override {
    std::lock_guard lock(mutex_);
    if (auto it = clients_.find(uri); it != clients_.end()) return it->second;
    auto c = inner_.connect(uri);
    if (!c) return c.error();
    auto scheme = wire::scheme_of(uri);
    auto metered = metrics_->meter(*c, "out", transport_of_scheme(scheme));
    clients_.emplace(uri, metered);
    return metered;
  }
  void close() override { inner_.close(); }

 private:
  Connector& inner_;
  std::shared_ptr<Metrics> metrics_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<ChordService>> clients_;
};

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpcs_(prometheus::BuildCounter()
                .Name("chord_rpcs_total")
                .Help("chord.v1 calls by method, direction (in: served, out: made), transport and outcome")
                .Register(*registry_)),
      rpc_seconds_(prometheus::BuildHistogram()
                       .Name("chord_rpc_duration_seconds")
                       .Help("chord.v1 call latency by method, direction and transport")
                       .Register(*registry_)),
      refused_(prometheus::BuildCounter()
                   .Name("chord_requests_refused_total")
                   .Help("requests a server turned away before they reached the node, by transport and reason")
                   .Register(*registry_)),
      lookups_(prometheus::BuildCounter().Name("chord_lookups_total").Help("lookups started here, by outcome (cached: a put, get or delete's owner known from a lookup of its arc lately)").Register(*registry_)),
      lookup_hops_(prometheus::BuildHistogram()
                       .Name("chord_lookup_hops")
                       .Help("remote lookup steps per successful lookup")
                       .Register(*registry_)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32})),
      stabilize_rounds_(prometheus::BuildCounter()
                            .Name("chord_stabilize_rounds_total")
                            .Help("stabilize rounds run")
                            .Register(*registry_)
                            .Add({})),
      keys_(prometheus::BuildGauge().Name("chord_keys_stored").Help("keys held here, owned and replicas").Register(*registry_).Add({})),
      bytes_(prometheus::BuildGauge().Name("chord_bytes_stored").Help("value bytes held here").Register(*registry_).Add({})),
      suspected_(prometheus::BuildGauge()
                     .Name("chord_suspected_peers")
                     .Help("peers routed around after a failed call")
                     .Register(*registry_)
                     .Add({})),
      connections_(prometheus::BuildGauge()
                       .Name("chord_http_connections")
                       .Help("connections open on an HTTP listener (REST transport, user API)")
                       .Register(*registry_)),
      accepted_(prometheus::BuildCounter()
                    .Name("chord_http_connections_accepted_total")
                    .Help("connections accepted by an HTTP listener")
                    .Register(*registry_)),
      accept_paused_(prometheus::BuildCounter()
                         .Name("chord_http_accept_paused_total")
                         .Help("times an HTTP listener stopped accepting at --max-connections")
                         .Register(*registry_)),
      accept_errors_(prometheus::BuildCounter()
                         .Name("chord_http_accept_errors_total")
                         .Help("failed accepts (out of descriptors or memory), each followed by a pause")
                         .Register(*registry_)) {}

void Metrics::watch_listener(std::string listener, std::function<rest::HttpCounters()> source) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.push_back(Listener{std::move(listener), std::move(source), {}});
}

std::shared_ptr<ChordService> Metrics::meter(std::shared_ptr<ChordService> service, std::string direction,
                                             std::string transport) {
  return std::make_shared<Metered>(std::move(service), shared_from_this(), std::move(direction), std::move(transport));
}

std::unique_ptr<Connector> Metrics::meter(Connector& connector) {
  return std::make_unique<MeteredConnector>(connector, shared_from_this());
}

void Metrics::refused(const std::string& transport, const std::string& reason) {
  refused_.Add({{"transport", transport}, {"reason", reason}}).Increment();
}

void Metrics::record_call(const std::string& method, const std::string& direction, const std::string& transport,
                          const std::string& outcome, double seconds) {
  rpcs_.Add({{"method", method}, {"direction", direction}, {"transport", transport}, {"outcome", outcome}}).Increment();
  static const auto buckets = latency_buckets();
  rpc_seconds_.Add({{"method", method}, {"direction", direction}, {"transport", transport}}, buckets).Observe(seconds);
}

void Metrics::lookup_done(std::uint32_t hops, bool ok) {
  lookups_.Add({{"outcome", ok ? "ok" : "failed"}}).Increment();
  if (ok) lookup_hops_.Observe(hops);
}

void Metrics::lookup_cached() { lookups_.Add({{"outcome", "cached"}}).Increment(); }

void Metrics::stabilized() { stabilize_rounds_.Increment(); }

std::string Metrics::scrape(const Node& node) {
  keys_.Set(static_cast<double>(node.store().count()));
  bytes_.Set(static_cast<double>(node.store().bytes()));
  suspected_.Set(static_cast<double>(node.suspected_count()));
  {
    std::lock_guard lock(listeners_mutex_);
    for (auto& l : listeners_) {
      auto now = l.source();
      const prometheus::Labels labels{{"listener", l.name}};
      connections_.Add(labels).Set(static_cast<double>(now.open));
      accepted_.Add(labels).Increment(static_cast<double>(now.accepted - l.last.accepted));
      accept_paused_.Add(labels).Increment(static_cast<double>(now.at_limit - l.last.at_limit));
      accept_errors_.Add(labels).Increment(static_cast<double>(now.accept_errors - l.last.accept_errors));
      l.last = now;
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace chord::http_api
