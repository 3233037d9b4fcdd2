#include "simulator.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "sim_ring.hpp"

namespace chord::sim {
namespace {

namespace asio = boost::asio;

Id random_id(const Ring& ring, std::mt19937_64& rng) {
  std::array<std::uint8_t, Id::kBytes> b{};
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return ring.reduce(Id(b));
}

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))) ;
  return sorted[std::min(sorted.size() - 1, i == 0 ? 0 : i - 1)];
}

LookupStats run_lookups(SimRing& ring, std::uint64_t count, std::mt19937_64& rng) {
  LookupStats stats;
  auto members = ring.live();
  auto sorted = ring.sorted_live();
  std::vector<std::uint64_t> hops;
  hops.reserve(count);
  // Lookups run in batches so that a batch's coroutines stay in memory together.
  const std::uint64_t batch = 1000;
  for (std::uint64_t done = 0; done < count;) {
    auto n = std::min(batch, count - done);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto key = random_id(ring.ring(), rng);
      auto from = members[rng() % members.size()];
      auto it = std::lower_bound(sorted.begin(), sorted.end(), key,
                                 [](const NodeRef& a, const Id& k) { return a.id < k; });
      Id truth = it == sorted.end() ? sorted.front().id : it->id;
      asio::co_spawn(ring.io(), from->find_successor(key),
                     [&stats, &hops, truth](std::exception_ptr e, Result<LookupReply> r) {
                       if (e || !r) {
                         ++stats.failed;
                         return;
                       }
                       if (r->owner.id != truth) ++stats.wrong;
                       hops.push_back(r->hops);
                     });
    }
    ring.io().restart();
    ring.io().run();
    done += n;
  }
  stats.lookups = count;
  std::sort(hops.begin(), hops.end());
  double sum = 0;
  for (auto h : hops) sum += static_cast<double>(h);
  stats.hops_mean = hops.empty() ? 0 : sum / static_cast<double>(hops.size());
  stats.hops_p1 = percentile(hops, 1);
  stats.hops_p50 = percentile(hops, 50);
  stats.hops_p99 = percentile(hops, 99);
  return stats;
}

std::uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;
}

boost::json::object stats_json(const LookupStats& s) {
  return {{"lookups", s.lookups},
          {"hops", {{"mean", std::round(s.hops_mean * 1000) / 1000}, {"p1", s.hops_p1}, {"p50", s.hops_p50}, {"p99", s.hops_p99}}},
          {"wrong", s.wrong},
          {"failed", s.failed}};
}

}  // namespace

SimReport simulate(const SimOptions& o, const Progress& progress) {
  if (o.nodes == 0) throw std::invalid_argument("--nodes must be at least 1");
  if (o.fail < 0 || o.fail >= 1) throw std::invalid_argument("--fail must be in [0, 1)");
  if (o.bits < 64 && o.nodes > (1ull << o.bits))
    throw std::invalid_argument(fmt::format("a {}-bit ring has room for {} nodes, not {}", o.bits, 1ull << o.bits, o.nodes));
  const auto t0 = std::chrono::steady_clock::now();
  SimReport report;
  report.options = o;
  std::mt19937_64 rng(o.seed);

  RingOptions ro;
  ro.bits = o.bits;
  ro.node.successors = o.successors;
  ro.node.replicas = o.replicas;
  ro.replicate = false;  // the simulator stores no keys
  SimRing ring(ro);

  // Ids come from URIs; in a small ring two URIs can hash alike, and such a node would be
  // refused, so the simulator skips that URI.
  std::unordered_set<Id, IdHash> used;
  std::vector<std::shared_ptr<Node>> all;
  while (all.size() < o.nodes) {
    auto n = ring.add();
    if (!used.insert(n->self().id).second) {
      ring.network().detach(n->self().uri);
      continue;
    }
    all.push_back(n);
  }

  if (o.build == Build::ideal) {
    ring.build_ideal();
    report.build_rounds = 0;
  } else {
    // Grow the ring by doubling: each wave joins as many nodes as the ring has, through random
    // members, then stabilizes. Joins spread over the ring, so a wave converges in a few rounds.
    std::size_t joined = 0;
    unsigned rounds = 0;
    bool converged = true;
    while (joined < all.size()) {
      std::size_t wave = std::max<std::size_t>(1, joined);
      std::vector<std::shared_ptr<Node>> batch(all.begin() + joined,
                                               all.begin() + std::min(all.size(), joined + wave));
      if (ring.join(batch, rng) != 0) throw std::runtime_error("a join failed in the simulator");
      joined += batch.size();
      auto r = ring.stabilize(o.max_rounds);
      if (!r) converged = false;
      rounds += r.value_or(o.max_rounds);
      if (progress) progress(fmt::format("joined {}/{} nodes, {} rounds", joined, all.size(), rounds));
    }
    auto r = ring.stabilize(o.max_rounds, true);
    rounds += r.value_or(o.max_rounds);
    report.build_rounds = converged && r ? std::optional<unsigned>(rounds) : std::nullopt;
  }
  report.fingers_correct = ring.fingers_correct();
  if (progress) progress(fmt::format("ring of {} built, {:.1f}% of fingers right; running {} lookups", all.size(),
                                     100 * report.fingers_correct, o.lookups));
  report.lookups = run_lookups(ring, o.lookups, rng);

  if (o.fail > 0) {
    auto victims = ring.live();
    std::shuffle(victims.begin(), victims.end(), rng);
    report.killed = static_cast<std::uint64_t>(std::floor(o.fail * static_cast<double>(victims.size())));
    report.killed = std::min<std::uint64_t>(report.killed, victims.size() - 1);
    for (std::uint64_t i = 0; i < report.killed; ++i) ring.kill(*victims[i]);
    if (progress) progress(fmt::format("killed {} nodes; lookups before repair", report.killed));
    report.after_failure = run_lookups(ring, o.lookups, rng);
    report.repair_rounds = ring.stabilize(o.max_rounds, true);
    if (progress) progress("re-stabilized; lookups after repair");
    report.after_repair = run_lookups(ring, o.lookups, rng);
  }
  report.messages = ring.network().calls();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.peak_rss_bytes = peak_rss_bytes();
  return report;
}

std::string to_json(const SimReport& r) {
  auto s = stats_json(r.lookups);
  boost::json::object out{{"nodes", r.options.nodes},
                          {"lookups", r.lookups.lookups},
                          {"hops", s["hops"]},
                          {"wrong", r.lookups.wrong},
                          {"failed", r.lookups.failed},
                          {"seconds", std::round(r.seconds * 1000) / 1000},
                          {"build", r.options.build == Build::join ? "join" : "ideal"},
                          {"bits", r.options.bits},
                          {"successors", r.options.successors},
                          {"seed", r.options.seed},
                          {"fingers_correct", std::round(r.fingers_correct * 1e6) / 1e6},
                          {"messages", r.messages},
                          {"peak_rss_bytes", r.peak_rss_bytes}};
  out["build_rounds"] = r.build_rounds ? boost::json::value(*r.build_rounds) : nullptr;
  if (r.after_failure) {
    out["failure"] = boost::json::object{
        {"fraction", r.options.fail},
        {"killed", r.killed},
        {"before_repair", stats_json(*r.after_failure)},
        {"after_repair", stats_json(*r.after_repair)},
        {"repair_rounds", r.repair_rounds ? boost::json::value(*r.repair_rounds) : nullptr}};
  }
  return boost::json::serialize(out);
}

std::string to_table(const SimReport& r) {
  std::string out;
  out += fmt::format("ring        {} nodes, {}-bit ids, r = {}, built by {} ({})\n", r.options.nodes, r.options.bits,
                     r.options.successors, r.options.build == Build::join ? "join" : "ideal",
                     r.build_rounds ? fmt::format("{} rounds", *r.build_rounds) : "did NOT converge");
  out += fmt::format("fingers     {:.2f}% right\n", 100 * r.fingers_correct);
  auto row = [&](const char* label, const LookupStats& s) {
    out += fmt::format("{:<11} {} lookups: hops mean {:.3f}  p1 {}  p50 {}  p99 {}   wrong {}  failed {}\n", label,
                       s.lookups, s.hops_mean, s.hops_p1, s.hops_p50, s.hops_p99, s.wrong, s.failed);
  };
  row("lookups", r.lookups);
  if (r.after_failure) {
    out += fmt::format("failure     killed {} of {} nodes ({:.0f}%) at once\n", r.killed, r.options.nodes, 100 * r.options.fail);
    row("  before", *r.after_failure);
    row("  after", *r.after_repair);
    out += fmt::format("  repair    {}\n", r.repair_rounds ? fmt::format("{} rounds", *r.repair_rounds) : "did NOT converge");
  }
  out += fmt::format("cost        {:.2f} s wall, {} messages, peak RSS {:.1f} MiB\n", r.seconds, r.messages,
                     static_cast<double>(r.peak_rss_bytes) / (1 << 20));
  return out;
}

}  // namespace chord::sim
