// The client commands: lookup, put, get, delete, ring, ls. Each talks to one access node
// (--via) over that node's transport.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <set>

#include "chord/clock.hpp"
#include "chord/secret_file.hpp"
#include "chord/sha256.hpp"
#include "chord/version_text.hpp"
#include "client_run.hpp"
#include "commands.hpp"
#include "registry.hpp"
#include "latency.hpp"
#include "value_route.hpp"
#include "values.hpp"
#include "views.hpp"

namespace chord::cli {
namespace json = boost::json;

int exit_code_of(const Error& e) {
  switch (e.code) {
    case Errc::not_found: return Exit::not_found;
    case Errc::unavailable:
    case Errc::deadline_exceeded:
    case Errc::resource_exhausted: return Exit::unreachable;
    case Errc::precondition_failed: return Exit::precondition_failed;
    default: return Exit::failure;
  }
}

int fail(const Error& e, const std::string& what) {
  std::cerr << "chordnode " << what << ": " << e.message << "\n";
  return exit_code_of(e);
}

void tls_options(CLI::App* cmd, TlsFiles& files) {
  cmd->add_option("--tls-cert", files.cert, "PEM certificate this end presents (TLS; with --tls-key and --tls-ca)")
      ->envname("CHORD_TLS_CERT");
  cmd->add_option("--tls-key", files.key, "PEM private key of --tls-cert; not readable by others")
      ->envname("CHORD_TLS_KEY");
  cmd->add_option("--tls-ca", files.ca, "PEM CA that every certificate of the ring chains to")
      ->envname("CHORD_TLS_CA");
}

void common(CLI::App* cmd, ClientOptions& o) {
  cmd->add_option("--via", o.via, "URI of the access node (any node of the ring); default $CHORD_VIA")
      ->envname("CHORD_VIA")
      ->required();
  cmd->add_flag("--json", o.json, "print one JSON object");
  cmd->add_option("--timeout-ms", o.timeout_ms, "deadline of each call (and of each chunk's progress)")->capture_default_str();
  cmd->add_option("--token-file", o.token_file,
                  "FILE with the ring's client token, which writes need where the nodes require one (serve "
                  "--client-token); default: the token in $CHORD_TOKEN");
  tls_options(cmd, o.tls);
}

Result<Credentials> ClientOptions::credentials() const {
  Credentials c;
  if (!token_file.empty()) {
    auto t = read_secret_file(token_file, "client token", 1);
    if (!t) return make_error(Errc::invalid_argument, "--token-file: " + t.error().message);
    c.token = *t;
  } else if (const char* env = std::getenv("CHORD_TOKEN")) {
    c.token = env;
  }
  auto loaded = TlsConfig::load(tls);
  if (!loaded) return loaded.error();
  c.tls = *loaded;
  return c;
}

namespace {

// --if-version V: the write applies only if the key is at version V now (0: does not exist).
void add_if_version(CLI::App* cmd, std::string& value) {
  cmd->add_option("--if-version", value,
                  "apply only if the key is now at this version (as put, get --json and ls print it; 0: only if "
                  "the key does not exist); otherwise exit 5 and change nothing");
}

Result<std::optional<Version>> condition_of(const std::string& text, const Ring& ring) {
  if (text.empty()) return std::optional<Version>{};
  auto v = parse_version(text, ring);
  if (!v) return v.error();
  return std::optional<Version>(*v);
}

std::string hex_digest(const Digest& d) { return to_hex(d); }

// --through-via: the bytes of a value of 4 MiB or more go through the access node too.
void through_via_flag(CLI::App* cmd, bool& flag, const std::string& verb, const std::string& where) {
  cmd->add_flag("--through-via", flag,
                fmt::format("{} the value through the --via node even at 4 MiB and more (by default such a value's "
                            "bytes go straight {}, and through --via when this client cannot reach it)",
                            verb, where));
}

// Sequential lookups of distinct keys, timed from this client: what one lookup costs end to end.
asio::awaitable<int> lookup_latency(ChordService& via, const std::string& key, unsigned n, const ClientOptions& o) {
  std::vector<double> ms;
  double hops = 0;
  for (unsigned i = 1; i <= n; ++i) {
    const LookupRequest req{key + "-" + std::to_string(i), std::nullopt};
    auto t0 = std::chrono::steady_clock::now();
    auto r = co_await via.lookup(req, o.timeout());
    if (!r) co_return fail(r.error(), "lookup");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    hops += r->hops;
  }
  const Latencies lat(std::move(ms));
  auto pct = [&](double p) { return lat.percentile(p); };
  if (o.json)
    std::cout << json::serialize(json::object{{"lookups", n}, {"p50_ms", round3(pct(50))}, {"p90_ms", round3(pct(90))},
                                              {"p99_ms", round3(pct(99))}, {"hops_mean", round3(hops / n)}})
              << "\n";
  else
    std::cout << fmt::format("{} lookups: p50 {:.3f} ms  p90 {:.3f} ms  p99 {:.3f} ms  mean hops {:.2f}\n", n, pct(50),
                             pct(90), pct(99), hops / n);
  co_return Exit::ok;
}

}  // namespace

void add_client_commands(CLI::App& app, int& exit_code) {
  // lookup KEY...
  {
    auto* cmd = app.add_subcommand("lookup", "Find the node that owns each KEY, with the hops and path");
    auto o = std::make_shared<ClientOptions>();
    auto keys = std::make_shared<std::vector<std::string>>();
    auto repeat = std::make_shared<unsigned>(0);
    cmd->add_option("KEY", *keys, "the keys (any text), looked up one after another")->required();
    cmd->add_option("--repeat", *repeat,
                    "look up KEY-1 .. KEY-N one after another and print latency percentiles instead");
    common(cmd, *o);
    cmd->callback([o, keys, repeat, &exit_code] {
      if (*repeat > 0) {
        if (keys->size() != 1) throw CLI::ValidationError("--repeat", "takes one KEY");
        exit_code = run(*o, "lookup", [&](ChordService& via, Ring) -> asio::awaitable<int> {
          co_return co_await lookup_latency(via, keys->front(), *repeat, *o);
        });
        return;
      }
      // One connection for every key: --json prints one object per line, in the keys' order; the
      // first key that fails ends the command with its error.
      exit_code = run(*o, "lookup", [&](ChordService& via, Ring ring) -> asio::awaitable<int> {
        for (const auto& key : *keys) {
          const LookupRequest req{key, std::nullopt};
          auto r = co_await via.lookup(req, o->timeout());
          if (!r) co_return fail(r.error(), "lookup " + key);
          if (o->json) {
            std::cout << json::serialize(views::lookup(key, *r, ring)) << "\n";
          } else {
            if (&key != &keys->front()) std::cout << "\n";
            std::cout << "key    " << key << " (id " << ring.hex(r->key_id) << ")\n"
                      << "owner  " << r->owner.uri << " (id " << ring.hex(r->owner.id) << ")\n"
                      << "hops   " << r->hops << "\npath  ";
            for (const auto& n : r->path) std::cout << " " << n.uri;
            std::cout << "\n";
          }
        }
        std::cout.flush();
        co_return Exit::ok;
      });
    });
  }
  // put KEY FILE | put KEY --dummy SIZE
  {
    auto* cmd = app.add_subcommand("put", "Store FILE (or a generated dummy value) under KEY");
    auto o = std::make_shared<ClientOptions>();
    auto key = std::make_shared<std::string>();
    auto file = std::make_shared<std::string>();
    auto dummy = std::make_shared<std::string>();
    auto if_version = std::make_shared<std::string>();
    cmd->add_option("KEY", *key, "the key (any text)")->required();
    auto* f = cmd->add_option("FILE", *file, "the file to store");
    auto* d = cmd->add_option("--dummy", *dummy, "store generated content of this size (4096, 64KiB, 8MiB, 1GiB)");
    f->excludes(d);
    auto through_via = std::make_shared<bool>(false);
    add_if_version(cmd, *if_version);
    through_via_flag(cmd, *through_via, "send", "to its key's owner");
    common(cmd, *o);
    cmd->callback([o, key, file, dummy, if_version, through_via, &exit_code] {
      if (file->empty() == dummy->empty()) {
        std::cerr << "chordnode put: give either FILE or --dummy SIZE\n";
        exit_code = Exit::usage;
        return;
      }
      std::unique_ptr<FileSource> fsrc;
      std::unique_ptr<DummySource> dsrc;
      ValueMeta meta;
      meta.key = *key;
      if (!file->empty()) {
        auto s = FileSource::open(*file);
        if (!s) {
          exit_code = fail(s.error(), "put");
          return;
        }
        fsrc = std::move(*s);
        auto digest = fsrc->sha256();
        if (!digest) {
          exit_code = fail(digest.error(), "put");
          return;
        }
        meta.size = fsrc->size();
        meta.sha256 = *digest;
      } else {
        auto size = parse_size(*dummy);
        if (!size) {
          std::cerr << "chordnode put: " << size.error().message << "\n";
          exit_code = Exit::usage;
          return;
        }
        dsrc = std::make_unique<DummySource>(*key, *size);
        meta.size = *size;
        meta.sha256 = dsrc->sha256();
      }
      ChunkSource& source = fsrc ? static_cast<ChunkSource&>(*fsrc) : *dsrc;
      exit_code = run(*o, "put", [&](ChordService& via, Ring ring, Reach reach) -> asio::awaitable<int> {
        meta.key_id = ring.hash(*key);
        auto condition = condition_of(*if_version, ring);
        if (!condition) co_return fail(condition.error(), "put");
        std::unique_ptr<Progress> progress;
        // Named, as every argument of a co_await'ed call here: g++ 12 destroys temporaries there twice.
        const std::function<void()> start = [&] {
          progress = std::make_unique<Progress>("put", meta.size);
          auto from_start = [&](auto& s) {
            s.rewind();
            s.show_progress(progress.get());
          };
          if (fsrc) from_start(*fsrc);
          if (dsrc) from_start(*dsrc);
        };
        start();
        const StoreRequest req{meta, Role::client, false, *condition, not_after(o->timeout())};
        const Route route{via, reach.via, reach.connector, !*through_via};
        auto r = co_await put_value(route, req, source, start, o->timeout());
        if (!r) co_return fail(r.error(), "put");
        if (o->json) {
          auto out = views::value(*key, r->owner, r->bytes, r->sha256, r->version, ring);
          out["copies"] = r->copies;
          std::cout << json::serialize(out) << "\n";
        } else {
          std::cout << "stored " << *key << ": " << r->bytes << " bytes on " << r->owner.uri << " (" << r->copies
                    << " copies), sha256 " << hex_digest(r->sha256) << ", version " << views::version(r->version, ring)
                    << "\n";
        }
        co_return Exit::ok;
      });
    });
  }
  // get KEY [-o FILE]
  {
    auto* cmd = app.add_subcommand("get", "Fetch the value of KEY to stdout or a file");
    auto o = std::make_shared<ClientOptions>();
    auto key = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto through_via = std::make_shared<bool>(false);
    cmd->add_option("KEY", *key, "the key")->required();
    through_via_flag(cmd, *through_via, "fetch", "from the holder that --via read its first 4 MiB from");
    cmd->add_option("-o,--output", *out,
                    "write the value to FILE: a regular file is replaced only once the whole value has arrived "
                    "and matches its digest; a device or FIFO is written into; - is stdout; a symbolic link is "
                    "refused (default: stdout; with --json: nowhere)");
    common(cmd, *o);
    cmd->callback([o, key, out, through_via, &exit_code] {
      auto target = !out->empty() ? ValueSink::Target::file : o->json ? ValueSink::Target::discard : ValueSink::Target::stdout_;
      ValueSink sink(target, *out);
      exit_code = run(*o, "get", [&](ChordService& via, Ring ring, Reach reach) -> asio::awaitable<int> {
        const Route route{via, reach.via, reach.connector, !*through_via};
        auto r = co_await get_value(route, *key, sink, o->timeout());
        if (!r) co_return fail(r.error(), "get");
        if (auto done = sink.finish(); !done) co_return fail(done.error(), "get");
        if (o->json)
          std::cout << json::serialize(views::value(*key, r->holder, r->meta.size, r->meta.sha256, r->meta.version, ring)) << "\n";
        else if (target == ValueSink::Target::file)
          std::cerr << "got " << *key << ": " << r->meta.size << " bytes from " << r->holder.uri << "\n";
        co_return Exit::ok;
      });
    });
  }
  // delete KEY
  {
    auto* cmd = app.add_subcommand("delete", "Delete KEY from its owner and replicas");
    auto o = std::make_shared<ClientOptions>();
    auto key = std::make_shared<std::string>();
    auto if_version = std::make_shared<std::string>();
    cmd->add_option("KEY", *key, "the key")->required();
    add_if_version(cmd, *if_version);
    common(cmd, *o);
    cmd->callback([o, key, if_version, &exit_code] {
      exit_code = run(*o, "delete", [&](ChordService& via, Ring ring) -> asio::awaitable<int> {
        auto condition = condition_of(*if_version, ring);
        if (!condition) co_return fail(condition.error(), "delete");
        const DeleteRequest req{*key, std::nullopt, Role::client, {}, *condition, not_after(o->timeout())};
        auto r = co_await via.remove(req, o->timeout());
        if (!r) co_return fail(r.error(), "delete");
        if (o->json)
          std::cout << json::serialize(json::object{{"key", *key}, {"owner", views::node(r->owner, ring)}, {"existed", r->existed},
                                                      {"version", views::version(r->version, ring)}, {"copies", r->copies}})
                    << "\n";
        else
          std::cout << (r->existed ? "deleted " : "was not there: ") << *key << "\n";
        co_return r->existed ? Exit::ok : Exit::not_found;
      });
    });
  }
  // ring
  {
    auto* cmd = app.add_subcommand("ring", "Walk the successors from the --via node, list every node, and say whether the ring is settled (once round, in id order)");
    auto o = std::make_shared<ClientOptions>();
    auto limit = std::make_shared<unsigned>(10000);
    common(cmd, *o);
    cmd->add_option("--limit", *limit, "stop after this many nodes")->capture_default_str();
    cmd->callback([o, limit, &exit_code] {
      exit_code = run(*o, "ring", [&](ChordService& via, Ring ring, Reach reach) -> asio::awaitable<int> {
        auto walk = co_await views::walk_ring(via, reach.connector, *limit, o->timeout());
        if (walk.nodes.empty()) co_return fail(*walk.broken, "ring");
        const auto& nodes = walk.nodes;
        const auto& broken = walk.broken;
        if (o->json) {
          std::cout << json::serialize(views::ring(walk, ring)) << "\n";
        } else {
          std::cout << fmt::format("{:<10} {:<28} {:<28} {:<28} {:>6}\n", "id", "uri", "predecessor", "successor", "keys");
          for (const auto& n : nodes)
            std::cout << fmt::format("{:<10} {:<28} {:<28} {:<28} {:>6}\n", ring.short_hex(n.self.id), n.self.uri,
                                     n.predecessor ? n.predecessor->uri : "-",
                                     n.successors.empty() ? "-" : n.successors.front().uri, n.keys);
          std::cout << nodes.size() << " nodes";
          if (!broken) {
            // All nodes listed is not yet a healed ring: a merge can first close one cycle of
            // every node that winds round the circle twice, where lookups disagree.
            const auto sh = views::shape(walk);
            if (sh.settled) std::cout << ", settled: once round the circle, in id order";
            else if (sh.winds == 0) std::cout << ", not settled: the walk did not come back to its start";
            else if (sh.winds != 1) std::cout << fmt::format(", not settled: the successors wind round the circle {} times", sh.winds);
            else std::cout << ", not settled: a predecessor pointer lags";
          }
          std::cout << "\n";
        }
        if (broken) co_return fail(*broken, "ring");
        co_return Exit::ok;
      });
    });
  }
  // ls
  {
    auto* cmd = app.add_subcommand("ls", "List the keys the --via node holds (owned and replicas)");
    auto o = std::make_shared<ClientOptions>();
    common(cmd, *o);
    cmd->callback([o, &exit_code] {
      exit_code = run(*o, "ls", [&](ChordService& via, Ring ring) -> asio::awaitable<int> {
        const ListKeysRequest req{0};
        auto r = co_await via.list_keys(req, o->timeout());
        if (!r) co_return fail(r.error(), "ls");
        if (o->json) {
          std::cout << json::serialize(views::keys(*r, ring)) << "\n";
        } else {
          for (const auto& m : r->keys) std::cout << ring.short_hex(m.key_id) << "  " << m.size << "  " << m.key << "\n";
          if (r->truncated) std::cout << "(truncated)\n";
        }
        co_return Exit::ok;
      });
    });
  }
}

}  // namespace chord::cli
