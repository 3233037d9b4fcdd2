#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "commands.hpp"
#include "library.hpp"

namespace {
// See library.hpp: the last gRPC shutdown happens on this thread, before exit.
struct GrpcLifetime {
  ~GrpcLifetime() { chord::grpc_transport::release_library(); }
};
}  // namespace

int main(int argc, char** argv) {
  GrpcLifetime grpc;
  CLI::App app{"chordnode: a Chord distributed hash table node and its client"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "chordnode 0.1.0");
  int exit_code = chord::cli::ok;
  chord::cli::add_serve(app, exit_code);
  chord::cli::add_client_commands(app, exit_code);
  chord::cli::add_simulate(app, exit_code);
  chord::cli::add_bench_client(app, exit_code);
  chord::cli::add_bench_raw(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : chord::cli::usage;
  } catch (const std::exception& e) {
    std::cerr << "chordnode: " << e.what() << "\n";
    return chord::cli::failure;
  }
  return exit_code;
}
