#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <exception>
#include <iostream>

#include "commands.hpp"
#include "config_file.hpp"
#include "huge_pages.hpp"
#include "library.hpp"

namespace {
// See library.hpp: the last gRPC shutdown happens on this thread, before exit.
struct GrpcLifetime {
  ~GrpcLifetime() { chord::grpc_transport::release_library(); }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "simulate") == 0) chord::cli::restart_with_huge_pages(argv);
  GrpcLifetime grpc;
  // Logs go to stderr for every command: stdout is a value (get), JSON (--json) or a table, and a
  // client's warning there (a broker that refused it, an owner passed by) corrupted it.
  spdlog::set_default_logger(spdlog::stderr_color_mt("chordnode"));
  // protobuf logs an ERROR line for each string field of a received message that is not UTF-8:
  // anyone able to send one could fill the log. The call is refused as malformed anyway.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char* file, int line, const std::string& m) {
    if (level >= google::protobuf::LOGLEVEL_FATAL) spdlog::critical("protobuf {}:{}: {}", file, line, m);
    else spdlog::debug("protobuf {}:{}: {}", file, line, m);
  });
  CLI::App app{"chordnode: a Chord distributed hash table node and its client", "chordnode"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "chordnode " CHORD_VERSION);
  int exit_code = chord::cli::ok;
  chord::cli::add_serve(app, exit_code);
  chord::cli::add_client_commands(app, exit_code);
  chord::cli::add_share_commands(app, exit_code);
  chord::cli::add_simulate(app, exit_code);
  chord::cli::add_bench_client(app, exit_code);
  chord::cli::add_bench_raw(app, exit_code);
  chord::cli::add_completion(app, exit_code);  // last: it lists the commands above
  auto expanded = chord::cli::expand_config(app, std::vector<std::string>(argv + 1, argv + argc));
  if (!expanded) {
    std::cerr << "chordnode " << argv[1] << ": " << expanded.error().message << "\n";
    return chord::cli::usage;
  }
  try {
    std::vector<std::string> reversed(expanded->args.rbegin(), expanded->args.rend());  // as CLI11 takes them
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    // A bad value from the config file: say where it stands.
    for (const auto& key : expanded->keys)
      if (std::string(e.what()).find("--" + key) != std::string::npos) {
        std::cerr << "chordnode " << argv[1] << ": " << chord::cli::config_origin(expanded->path, key) << e.what() << "\n";
        return chord::cli::usage;
      }
    int code = app.exit(e);
    return code == 0 ? 0 : chord::cli::usage;
  } catch (const std::exception& e) {
    std::cerr << "chordnode: " << e.what() << "\n";
    return chord::cli::failure;
  }
  return exit_code;
}
