#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "../sim/consistency.hpp"
#include "../sim/simulator.hpp"
#include "commands.hpp"

namespace chord::cli {

void add_simulate(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("simulate", "Simulate a ring of N real nodes in one process and check lookups");
  auto opts = std::make_shared<sim::SimOptions>();
  auto json = std::make_shared<bool>(false);
  auto build = std::make_shared<std::string>("join");
  cmd->add_option("--nodes", opts->nodes, "number of hosts (each runs --vnodes nodes)")->capture_default_str()->check(CLI::Range(1ull, 10000000ull));
  cmd->add_option("--vnodes", opts->vnodes, "virtual nodes per host: each host runs this many Chord nodes")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  cmd->add_option("--keys", opts->keys, "keys to put through random nodes: keys per host, and keys lost with --fail")
      ->capture_default_str();
  cmd->add_option("--lookups", opts->lookups, "lookups of random keys from random nodes")->capture_default_str();
  cmd->add_option("--bits", opts->bits, "m: ids have m bits")->capture_default_str()->check(CLI::Range(3u, 160u));
  cmd->add_option("--successors", opts->successors, "r: length of the successor list")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--replicas", opts->replicas, "k: copies of each key")->capture_default_str()->check(CLI::Range(1u, 64u));
  cmd->add_option("--read-quorum", opts->read_quorum,
                  "R: holders a get needs (0: a majority of k; 1: any copy, to measure what survives)")
      ->capture_default_str();
  cmd->add_option("--fail", opts->fail, "fraction of hosts to kill at once after the first lookups")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--seed", opts->seed, "seed of every random choice")->capture_default_str();
  cmd->add_option("--build", *build,
                  "join: nodes join through the protocol in waves; at-once: every node starts in the same instant "
                  "through seeds that are joining themselves (see --seeds); ideal: routing state computed from the sorted ids")
      ->capture_default_str()
      ->check(CLI::IsMember({"join", "at-once", "ideal"}));
  auto seeds = std::make_shared<std::string>("random");
  cmd->add_option("--seeds", *seeds,
                  "with --build at-once, each node's seed: chain (the node before it), star (the first), random (a "
                  "random earlier node), shared (one list of the first three for all)")
      ->capture_default_str()
      ->check(CLI::IsMember({"chain", "star", "random", "shared"}));
  cmd->add_option("--max-rounds", opts->max_rounds, "give up converging after this many rounds per phase")->capture_default_str();
  auto consistency = std::make_shared<std::uint64_t>(0);
  cmd->add_option("--consistency", *consistency,
                  "instead: this many schedules of puts, overwrites, conditional puts, deletes and gets on a ring "
                  "of --nodes (8 is right) while holders crash, restart from their data, pause, leave and rejoin, "
                  "and live nodes suspect live successors after a missed deadline or a refused call; "
                  "every read and every accepted conditional put is checked against what was acknowledged (uses "
                  "--replicas, --read-quorum, --seed)");
  auto first = std::make_shared<std::uint64_t>(0);
  cmd->add_option("--first-schedule", *first,
                  "with --consistency, start at this schedule, to replay one that a violation names "
                  "(--consistency 1 --first-schedule N --seed S)")
      ->capture_default_str();
  cmd->add_flag("--json", *json, "print one JSON object");
  cmd->callback([opts, json, build, seeds, consistency, first, &exit_code] {
    spdlog::set_level(spdlog::level::off);
    if (*consistency > 0) {
      sim::ConsistencyOptions co;
      co.schedules = *consistency;
      co.first = *first;
      co.seed = opts->seed;
      co.nodes = static_cast<unsigned>(std::min<std::uint64_t>(opts->nodes, 64));
      co.replicas = opts->replicas;
      co.read_quorum = opts->read_quorum;
      auto r = sim::check_consistency(co);
      if (*json) {
        boost::json::array v;
        for (const auto& s : r.violations) v.emplace_back(boost::json::string(s));
        std::cout << boost::json::serialize(boost::json::object{
                         {"schedules", r.schedules}, {"puts", r.puts}, {"deletes", r.deletes}, {"gets", r.gets},
                         {"conditional", r.conditional}, {"conflicts", r.conflicts}, {"leaves", r.leaves},
                         {"leave_writes", r.leave_writes}, {"leave_refused", r.leave_refused},
                         {"join_writes", r.join_writes}, {"join_refused", r.join_refused}, {"suspicions", r.suspicions}, {"late_writes", r.late_writes},
                         {"range_reads", r.range_reads}, {"range_changes", r.range_changes}, {"refused", r.refused},
                         {"faults", r.faults}, {"violations", r.violation_count},
                         {"first_violations", v}})
                  << "\n";
      } else {
        const std::string from = co.first ? fmt::format(", from schedule {}", co.first) : std::string();
        std::cout << fmt::format("consistency  {} schedules (seed {}{}), {} nodes, k = {}: {} puts, {} conditional puts "
                                 "({} conflicts), {} deletes, {} gets, {} refused (no quorum), {} crashes and pauses, {} leaves ({} writes during "
                                 "them, {} refused), {} rejoins with a write during them ({} refused), {} suspicions of live successors, {} writes delivered late, {} reads in ranges ({} "
                                 "ended as the key changed)\n",
                                 r.schedules, co.seed, from, co.nodes, co.replicas, r.puts, r.conditional, r.conflicts, r.deletes, r.gets,
                                 r.refused, r.faults, r.leaves, r.leave_writes, r.leave_refused, r.join_writes, r.join_refused, r.suspicions, r.late_writes, r.range_reads, r.range_changes);
        std::cout << fmt::format("violations   {}\n", r.violation_count);
        for (const auto& s : r.violations) std::cout << "  " << s << "\n";
      }
      exit_code = r.violation_count ? Exit::failure : Exit::ok;
      return;
    }
    spdlog::set_level(spdlog::level::warn);
    opts->build = *build == "ideal" ? sim::Build::ideal : *build == "at-once" ? sim::Build::at_once : sim::Build::join;
    opts->seeds = *seeds == "chain" ? sim::Seeds::chain
                  : *seeds == "star" ? sim::Seeds::star
                  : *seeds == "shared" ? sim::Seeds::shared
                                       : sim::Seeds::random;
    bool tty = isatty(STDERR_FILENO);
    auto progress = [tty](const std::string& line) {
      if (tty) std::cerr << "\r\033[K" << line << std::flush;
    };
    auto report = sim::simulate(*opts, progress);
    if (tty) std::cerr << "\r\033[K";
    std::cout << (*json ? sim::to_json(report) + "\n" : sim::to_table(report));
    bool bad = !report.build_rounds || report.lookups.wrong > 0 || report.lookups.failed > 0 ||
               (report.after_repair && (report.after_repair->wrong > 0 || report.after_repair->failed > 0)) ||
               (report.load && report.load->refused > 0);
    exit_code = bad ? Exit::failure : Exit::ok;
  });
}

}  // namespace chord::cli
