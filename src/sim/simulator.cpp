#include "simulator.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "client_ops.hpp"
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

// Runs make(i) for i in [0, count) on the ring, a batch at a time; which ones succeeded.
template <class Make>
std::vector<char> run_batched(SimRing& ring, std::uint64_t count, Make make) {
  std::vector<char> ok(count, 0);
  const std::uint64_t batch = 1000;
  for (std::uint64_t done = 0; done < count;) {
    auto n = std::min(batch, count - done);
    for (std::uint64_t i = done; i < done + n; ++i)
      asio::co_spawn(ring.io(), make(i), [&ok, i](std::exception_ptr e, bool r) { ok[i] = !e && r; });
    ring.io().restart();
    ring.io().run();
    done += n;
  }
  return ok;
}

// The spread of a sample: mean, percentiles (nearest rank) and maximum.
struct Spread {
  double mean = 0;
  std::uint64_t p1 = 0, p50 = 0, p99 = 0, max = 0;
};

Spread spread_of(std::vector<std::uint64_t> v) {
  Spread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (auto x : v) sum += static_cast<double>(x);
  s.mean = sum / static_cast<double>(v.size());
  s.p1 = percentile(v, 1);
  s.p50 = percentile(v, 50);
  s.p99 = percentile(v, 99);
  s.max = v.back();
  return s;
}

// One lookup, checked against the true owner; the hop count of an answered one goes to hops.
asio::awaitable<bool> checked_lookup(std::shared_ptr<Node> from, Id key, Id truth, std::uint64_t* wrong,
                                     std::vector<std::uint64_t>* hops) {
  auto r = co_await from->find_successor(key);
  if (!r) co_return false;
  if (r->owner.id != truth) ++*wrong;
  hops->push_back(r->hops);
  co_return true;
}

LookupStats run_lookups(SimRing& ring, std::uint64_t count, std::mt19937_64& rng) {
  LookupStats stats;
  auto members = ring.live();
  auto sorted = ring.sorted_live();
  std::vector<std::uint64_t> hops;
  hops.reserve(count);
  auto answered = run_batched(ring, count, [&](std::uint64_t) {
    auto key = random_id(ring.ring(), rng);
    auto from = members[rng() % members.size()];
    auto it = std::lower_bound(sorted.begin(), sorted.end(), key,
                               [](const NodeRef& a, const Id& k) { return a.id < k; });
    Id truth = it == sorted.end() ? sorted.front().id : it->id;
    return checked_lookup(from, key, truth, &stats.wrong, &hops);
  });
  stats.lookups = count;
  stats.failed = count - static_cast<std::uint64_t>(std::count(answered.begin(), answered.end(), 1));
  auto spread = spread_of(std::move(hops));
  stats.hops_mean = spread.mean;
  stats.hops_p1 = spread.p1;
  stats.hops_p50 = spread.p50;
  stats.hops_p99 = spread.p99;
  return stats;
}

std::string key_name(std::uint64_t i) { return fmt::format("key-{}", i); }

asio::awaitable<bool> put_ok(std::shared_ptr<Node> via, std::uint64_t i) {
  auto r = co_await put_value(via, key_name(i), fmt::format("value-{}", i), via->config().chunk_bytes,
                              via->config().rpc_timeout);
  co_return r.ok();
}

asio::awaitable<bool> get_ok(std::shared_ptr<Node> via, std::uint64_t i) {
  auto r = co_await get_value(via, key_name(i), via->config().rpc_timeout);
  co_return r && *r == fmt::format("value-{}", i);
}

// Puts keys 0..count-1 through random nodes; `stored` says which were acknowledged.
LoadStats store_keys(SimRing& ring, std::uint64_t count, std::mt19937_64& rng, std::vector<char>& stored) {
  LoadStats load;
  auto members = ring.live();
  std::vector<std::shared_ptr<Node>> via(count);
  for (auto& v : via) v = members[rng() % members.size()];
  stored = run_batched(ring, count, [&](std::uint64_t i) { return put_ok(via[i], i); });
  load.stored = static_cast<std::uint64_t>(std::count(stored.begin(), stored.end(), 1));
  load.refused = count - load.stored;
  // What each node holds as owner; its other keys are replicas.
  std::unordered_map<std::size_t, std::uint64_t> per_host;
  for (const auto& n : members) {
    auto& held = per_host[ring.host_of(*n)];
    if (!n->predecessor()) continue;
    for (const auto& v : n->store().list())
      if (in_half_open(v.key_id, n->predecessor()->id, n->self().id)) ++held;
  }
  std::vector<std::uint64_t> counts;
  for (const auto& [host, held] : per_host) counts.push_back(held);
  auto spread = spread_of(std::move(counts));
  load.mean = spread.mean;
  load.p1 = spread.p1;
  load.p50 = spread.p50;
  load.p99 = spread.p99;
  load.max = spread.max;
  return load;
}

FetchStats fetch_keys(SimRing& ring, const std::vector<char>& stored, std::mt19937_64& rng) {
  auto members = ring.live();
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; i < stored.size(); ++i)
    if (stored[i]) keys.push_back(i);
  std::vector<std::shared_ptr<Node>> via(keys.size());
  for (auto& v : via) v = members[rng() % members.size()];
  auto ok = run_batched(ring, keys.size(), [&](std::uint64_t i) { return get_ok(via[i], keys[i]); });
  auto found = static_cast<std::uint64_t>(std::count(ok.begin(), ok.end(), 1));
  return FetchStats{keys.size(), keys.size() - found};
}

std::uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;
}

std::uint64_t huge_page_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("AnonHugePages:")) return std::strtoull(line.c_str() + 14, nullptr, 10) * 1024;
  return 0;
}

boost::json::object stats_json(const LookupStats& s) {
  return {{"lookups", s.lookups},
          {"hops", {{"mean", std::round(s.hops_mean * 1000) / 1000}, {"p1", s.hops_p1}, {"p50", s.hops_p50}, {"p99", s.hops_p99}}},
          {"wrong", s.wrong},
          {"failed", s.failed}};
}

std::vector<std::vector<std::string>> seed_lists(const std::vector<std::shared_ptr<Node>>& all, Seeds shape,
                                                std::mt19937_64& rng) {
  std::vector<std::vector<std::string>> seeds(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (shape == Seeds::shared) {
      for (std::size_t j = 0; j < std::min<std::size_t>(3, all.size()); ++j) seeds[i].push_back(all[j]->self().uri);
      continue;
    }
    if (i == 0) continue;  // the first node starts the ring
    std::size_t seed = shape == Seeds::chain ? i - 1 : shape == Seeds::star ? 0 : rng() % i;
    seeds[i].push_back(all[seed]->self().uri);
  }
  return seeds;
}

// Every node starts in the same instant with its seed list, as a cluster started by a script or
// an orchestrator does: a node whose seeds are not in a ring yet tries again in the next round
// (a retry after its backoff), while the nodes already in run their periodic tasks. Returns the
// rounds until every node was in, or nullopt.
std::optional<unsigned> join_at_once(SimRing& ring, const std::vector<std::shared_ptr<Node>>& all,
                                     const SimOptions& o, std::mt19937_64& rng, SimReport& report,
                                     const Progress& progress) {
  auto seeds = seed_lists(all, o.seeds, rng);
  std::vector<std::size_t> pending(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) pending[i] = i;
  // A chain joins one node per round: allow it that many.
  const std::uint64_t limit = o.max_rounds + all.size();
  auto& net = ring.network().options();
  std::optional<unsigned> done;
  for (unsigned round = 1; !done && round <= limit; ++round) {
    // The attempts of one round begin in the same instant: none sees another's answer.
    net.interleave = true;
    std::vector<char> in(all.size(), 0);
    for (auto i : pending)
      asio::co_spawn(ring.io(), all[i]->join_any(seeds[i]), [&in, i](std::exception_ptr e, Result<void> r) {
        in[i] = !e && r;
      });
    ring.io().restart();
    ring.io().run();
    net.interleave = false;
    std::erase_if(pending, [&](std::size_t i) { return in[i]; });
    report.join_retries += pending.size();
    ring.round();
    if (pending.empty()) done = round;
    if (progress && round % 10 == 0)
      progress(fmt::format("round {}: {}/{} nodes in", round, all.size() - pending.size(), all.size()));
  }
  return done;
}

}  // namespace

SimReport simulate(const SimOptions& o, const Progress& progress) {
  if (o.nodes == 0) throw std::invalid_argument("--nodes must be at least 1");
  if (o.vnodes == 0) throw std::invalid_argument("--vnodes must be at least 1");
  if (o.fail < 0 || o.fail >= 1) throw std::invalid_argument("--fail must be in [0, 1)");
  const std::uint64_t total = o.nodes * o.vnodes;
  if (o.bits < 64 && total > (1ull << o.bits))
    throw std::invalid_argument(fmt::format("a {}-bit ring has room for {} nodes, not {}", o.bits, 1ull << o.bits, total));
  const auto t0 = std::chrono::steady_clock::now();
  SimReport report;
  report.options = o;
  std::mt19937_64 rng(o.seed);

  RingOptions ro;
  ro.bits = o.bits;
  ro.node.successors = o.successors;
  ro.node.replicas = o.replicas;
  ro.node.read_quorum = o.read_quorum;
  ro.replicate = false;  // the simulator stores no keys
  SimRing ring(ro);

  // Ids come from URIs; in a small ring two URIs can hash alike, and such a node would be
  // refused, so the simulator skips that URI.
  std::unordered_set<Id, IdHash> used;
  std::vector<std::shared_ptr<Node>> all;
  for (std::uint64_t hosts = 0; hosts < o.nodes;) {
    bool any = false;
    for (const auto& n : ring.add_host(o.vnodes)) {
      if (!used.insert(n->self().id).second) {
        ring.network().detach(n->self().uri);
        continue;
      }
      all.push_back(n);
      any = true;
    }
    if (any) ++hosts;
  }

  if (o.build == Build::ideal) {
    ring.build_ideal();
    report.build_rounds = 0;
  } else if (o.build == Build::at_once) {
    auto in = join_at_once(ring, all, o, rng, report, progress);
    report.join_rounds = in.value_or(0);
    auto r = in ? ring.stabilize(o.max_rounds, true) : std::nullopt;
    report.build_rounds = r ? std::optional<unsigned>(*in + *r) : std::nullopt;
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
  std::vector<char> stored;
  if (o.keys > 0) {
    if (progress) progress(fmt::format("storing {} keys", o.keys));
    report.load = store_keys(ring, o.keys, rng, stored);
  }

  if (o.fail > 0) {
    // A host fails with all its virtual nodes.
    std::unordered_map<std::size_t, std::vector<std::shared_ptr<Node>>> by_host;
    for (const auto& n : ring.live()) by_host[ring.host_of(*n)].push_back(n);
    std::vector<std::size_t> hosts;
    for (const auto& [host, nodes] : by_host) hosts.push_back(host);
    std::sort(hosts.begin(), hosts.end());
    std::shuffle(hosts.begin(), hosts.end(), rng);
    report.killed = static_cast<std::uint64_t>(std::floor(o.fail * static_cast<double>(hosts.size())));
    report.killed = std::min<std::uint64_t>(report.killed, hosts.size() - 1);
    for (std::uint64_t i = 0; i < report.killed; ++i)
      for (const auto& n : by_host[hosts[i]]) ring.kill(*n);
    if (progress) progress(fmt::format("killed {} hosts; lookups before repair", report.killed));
    report.after_failure = run_lookups(ring, o.lookups, rng);
    if (report.load) report.fetch_after_failure = fetch_keys(ring, stored, rng);
    report.repair_rounds = ring.stabilize(o.max_rounds, true);
    if (progress) progress("re-stabilized; lookups after repair");
    report.after_repair = run_lookups(ring, o.lookups, rng);
    if (report.load) report.fetch_after_repair = fetch_keys(ring, stored, rng);
  }
  report.messages = ring.network().calls();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.peak_rss_bytes = peak_rss_bytes();
  report.huge_page_bytes = huge_page_bytes();
  return report;
}

std::string build_name(Build b) { return b == Build::join ? "join" : b == Build::ideal ? "ideal" : "at-once"; }

std::string seeds_name(Seeds s) {
  switch (s) {
    case Seeds::chain: return "chain";
    case Seeds::star: return "star";
    case Seeds::random: return "random";
    case Seeds::shared: return "shared";
  }
  return "?";
}

std::string to_json(const SimReport& r) {
  auto s = stats_json(r.lookups);
  boost::json::object out{{"nodes", r.options.nodes},
                          {"lookups", r.lookups.lookups},
                          {"hops", s["hops"]},
                          {"wrong", r.lookups.wrong},
                          {"failed", r.lookups.failed},
                          {"seconds", std::round(r.seconds * 1000) / 1000},
                          {"build", build_name(r.options.build)},
                          {"bits", r.options.bits},
                          {"successors", r.options.successors},
                          {"seed", r.options.seed},
                          {"fingers_correct", std::round(r.fingers_correct * 1e6) / 1e6},
                          {"messages", r.messages},
                          {"peak_rss_bytes", r.peak_rss_bytes},
                          {"huge_page_bytes", r.huge_page_bytes}};
  out["vnodes"] = r.options.vnodes;
  out["replicas"] = r.options.replicas;
  out["build_rounds"] = r.build_rounds ? boost::json::value(*r.build_rounds) : nullptr;
  if (r.options.build == Build::at_once)
    out["at_once"] = boost::json::object{
        {"seeds", seeds_name(r.options.seeds)}, {"join_rounds", r.join_rounds}, {"join_retries", r.join_retries}};
  if (r.load) {
    const auto& l = *r.load;
    out["keys"] = boost::json::object{{"stored", l.stored},
                                      {"refused", l.refused},
                                      {"per_host", {{"mean", std::round(l.mean * 1000) / 1000},
                                                    {"p1", l.p1},
                                                    {"p50", l.p50},
                                                    {"p99", l.p99},
                                                    {"max", l.max}}}};
  }
  if (r.after_failure) {
    boost::json::object f{{"fraction", r.options.fail},
                          {"killed_hosts", r.killed},
                          {"before_repair", stats_json(*r.after_failure)},
                          {"after_repair", stats_json(*r.after_repair)},
                          {"repair_rounds", r.repair_rounds ? boost::json::value(*r.repair_rounds) : nullptr}};
    auto fetches = [](const FetchStats& s) { return boost::json::object{{"fetched", s.fetched}, {"lost", s.lost}}; };
    if (r.fetch_after_failure) f["before_repair"].as_object()["keys"] = fetches(*r.fetch_after_failure);
    if (r.fetch_after_repair) f["after_repair"].as_object()["keys"] = fetches(*r.fetch_after_repair);
    out["failure"] = std::move(f);
  }
  return boost::json::serialize(out);
}

std::string to_table(const SimReport& r) {
  std::string out;
  out += fmt::format("ring        {} nodes{}, {}-bit ids, r = {}, built by {} ({})\n", r.options.nodes,
                     r.options.vnodes > 1 ? fmt::format(" x {} virtual", r.options.vnodes) : "", r.options.bits,
                     r.options.successors, build_name(r.options.build),
                     r.build_rounds ? fmt::format("{} rounds", *r.build_rounds) : "did NOT converge");
  if (r.options.build == Build::at_once)
    out += fmt::format("at once     seeds {}: every node in after {} rounds, {} join attempts found no seed in a ring\n",
                       seeds_name(r.options.seeds), r.join_rounds, r.join_retries);
  out += fmt::format("fingers     {:.2f}% right\n", 100 * r.fingers_correct);
  auto row = [&](const char* label, const LookupStats& s) {
    out += fmt::format("{:<11} {} lookups: hops mean {:.3f}  p1 {}  p50 {}  p99 {}   wrong {}  failed {}\n", label,
                       s.lookups, s.hops_mean, s.hops_p1, s.hops_p50, s.hops_p99, s.wrong, s.failed);
  };
  row("lookups", r.lookups);
  if (r.load) {
    const auto& l = *r.load;
    out += fmt::format("keys        {} stored ({} refused), k = {}; per node: mean {:.1f}  p1 {}  p50 {}  p99 {}  max {}\n",
                       l.stored, l.refused, r.options.replicas, l.mean, l.p1, l.p50, l.p99, l.max);
  }
  auto fetched = [&](const std::optional<FetchStats>& f) {
    if (f) out += fmt::format("            fetched {} keys: {} lost ({:.2f}%)\n", f->fetched, f->lost,
                              f->fetched ? 100.0 * static_cast<double>(f->lost) / static_cast<double>(f->fetched) : 0.0);
  };
  if (r.after_failure) {
    out += fmt::format("failure     killed {} of {} nodes ({:.0f}%) at once\n", r.killed, r.options.nodes, 100 * r.options.fail);
    row("  before", *r.after_failure);
    fetched(r.fetch_after_failure);
    row("  after", *r.after_repair);
    fetched(r.fetch_after_repair);
    out += fmt::format("  repair    {}\n", r.repair_rounds ? fmt::format("{} rounds", *r.repair_rounds) : "did NOT converge");
  }
  out += fmt::format("cost        {:.2f} s wall, {} messages, peak RSS {:.1f} MiB ({:.1f} MiB in huge pages at the end)\n",
                     r.seconds, r.messages, static_cast<double>(r.peak_rss_bytes) / (1 << 20),
                     static_cast<double>(r.huge_page_bytes) / (1 << 20));
  return out;
}

}  // namespace chord::sim
