// The client commands of shared folders: search WORD..., fetch NAME. Records are read through the
// --via node; a file comes straight from a holder, over that holder's own transport.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <iostream>

#include "chord/sha256.hpp"
#include "client_run.hpp"
#include "share_client.hpp"
#include "share_name.hpp"
#include "values.hpp"

namespace chord::cli {
namespace json = boost::json;

void add_share_commands(CLI::App& app, int& exit_code) {
  // search WORD...
  {
    auto* cmd = app.add_subcommand("search", "Find files that nodes share (serve --share) by words of their names or an exact name");
    auto o = std::make_shared<ClientOptions>();
    auto words = std::make_shared<std::vector<std::string>>();
    cmd->add_option("WORD", *words, "words the name must all contain (letters and digits, any case), or an exact name")
        ->required();
    common(cmd, *o);
    cmd->callback([o, words, &exit_code] {
      exit_code = run(*o, "search", [&](ChordService& via, Ring) -> asio::awaitable<int> {
        auto found = co_await share::search(via, *words, o->timeout());
        if (!found) co_return fail(found.error(), "search");
        if (o->json) {
          std::cout << json::serialize(share::to_json(*found)) << "\n";
        } else {
          for (const auto& f : *found) {
            std::cout << fmt::format("{}  {} bytes  sha256 {}\n", f.name, f.size, to_hex(f.sha256));
            for (const auto& h : f.holders) std::cout << "    " << h << "\n";
          }
          std::cout << found->size() << (found->size() == 1 ? " file\n" : " files\n");
        }
        co_return found->empty() ? Exit::not_found : Exit::ok;
      });
    });
  }
  // fetch NAME [-o FILE]
  {
    auto* cmd = app.add_subcommand("fetch", "Download a shared file straight from a node that shares it, "
                                            "going on from another holder if one fails");
    auto o = std::make_shared<ClientOptions>();
    auto name = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto digest = std::make_shared<std::string>();
    auto rate = std::make_shared<std::string>();
    cmd->add_option("NAME", *name, "the file's name, as search prints it")->required();
    cmd->add_option("-o,--output", *out,
                    "write it to FILE, replaced only once every byte arrived and matches the digest; - is stdout "
                    "(default: NAME in the current directory)");
    cmd->add_option("--sha256", *digest, "which content, where holders share different files of one name (default: the one most hold)");
    cmd->add_option("--limit-rate", *rate, "at most this many bytes a second (e.g. 8MiB)");
    common(cmd, *o);
    cmd->callback([o, name, out, digest, rate, &exit_code] {
      if (auto ok = share::check_name(*name); !ok) {
        std::cerr << "chordnode fetch: " << ok.error().message << "\n";
        exit_code = Exit::usage;
        return;
      }
      share::FetchOptions options;
      options.timeout = o->timeout();
      if (!digest->empty()) {
        options.sha256 = digest_from_hex(*digest);
        if (!options.sha256) {
          std::cerr << "chordnode fetch: --sha256 takes 64 hex digits\n";
          exit_code = Exit::usage;
          return;
        }
      }
      if (!rate->empty()) {
        auto n = parse_size(*rate);
        if (!n || *n == 0) {
          std::cerr << "chordnode fetch: --limit-rate: " << (n ? "must be above 0" : n.error().message) << "\n";
          exit_code = Exit::usage;
          return;
        }
        options.bytes_per_second = *n;
      }
      options.note = [](const std::string& line) { std::cerr << line << std::endl; };
      const std::string path = out->empty() ? *name : *out;
      if (path == "-" && o->json) {
        std::cerr << "chordnode fetch: --json prints to stdout; give -o FILE for the file\n";
        exit_code = Exit::usage;
        return;
      }
      ValueSink sink(path == "-" ? ValueSink::Target::stdout_ : ValueSink::Target::file, path, "fetch");
      exit_code = run(*o, "fetch", [&](ChordService& via, Ring) -> asio::awaitable<int> {
        auto executor = co_await asio::this_coro::executor;
        auto credentials = o->credentials();  // run() has checked them
        auto peers = make_registry(executor, credentials ? *credentials : Credentials{});
        auto r = co_await share::fetch_file(*peers, via, *name, sink, options);
        peers->close();
        if (!r) co_return fail(r.error(), "fetch");
        if (auto done = sink.finish(); !done) co_return fail(done.error(), "fetch");
        if (o->json)
          std::cout << json::serialize(json::object{{"name", *name}, {"bytes", r->bytes}, {"sha256", to_hex(r->sha256)}, {"from", r->from}})
                    << "\n";
        else
          std::cerr << fmt::format("fetched {}: {} bytes from {}, sha256 {}\n", *name, r->bytes, r->from, to_hex(r->sha256));
        co_return Exit::ok;
      });
    });
  }
}

}  // namespace chord::cli
