#pragma once
// The node's Prometheus metrics (prometheus-cpp): RPCs by method, direction, transport and
// outcome with latency histograms, lookups with a hop-count histogram, keys and bytes stored,
// stabilization rounds, suspected peers, requests refused before they reached the node.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "chord/node.hpp"
#include "http_counters.hpp"

namespace chord::http_api {

class Metrics final : public NodeObserver, public std::enable_shared_from_this<Metrics> {
 public:
  Metrics();

  // Counts and times every call through service. direction: "in" (served) or "out" (made).
  std::shared_ptr<ChordService> meter(std::shared_ptr<ChordService> service, std::string direction,
                                      std::string transport);
  // A connector whose clients are metered as "out", labelled with each peer's URI scheme.
  std::unique_ptr<Connector> meter(Connector& connector);

  void record_call(const std::string& method, const std::string& direction, const std::string& transport,
                   const std::string& outcome, double seconds);
  // A request a server turned away before it reached the node (it could not be answered, or was
  // over a limit): chord_requests_refused_total{transport, reason}.
  void refused(const std::string& transport, const std::string& reason);
  // An HTTP listener whose connections /metrics reports: chord_http_connections{listener} and
  // the counters of accepts, pauses at --max-connections and accept failures.
  void watch_listener(std::string listener, std::function<rest::HttpCounters()> source);
  void lookup_done(std::uint32_t hops, bool ok) override;
  void lookup_cached() override;
  void stabilized() override;

  // The text exposition, with the node's state read first. On the node's executor.
  std::string scrape(const Node& node);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpcs_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& lookups_;
  prometheus::Histogram& lookup_hops_;
  prometheus::Counter& stabilize_rounds_;
  prometheus::Gauge& keys_;
  prometheus::Gauge& bytes_;
  prometheus::Gauge& suspected_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Family<prometheus::Counter>& accepted_;
  prometheus::Family<prometheus::Counter>& accept_paused_;
  prometheus::Family<prometheus::Counter>& accept_errors_;
  struct Listener {
    std::string name;
    std::function<rest::HttpCounters()> source;
    rest::HttpCounters last;
  };
  std::mutex listeners_mutex_;
  std::vector<Listener> listeners_;
};

}  // namespace chord::http_api
