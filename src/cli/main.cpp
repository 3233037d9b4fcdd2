#include <grpc/grpc.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "commands.hpp"

namespace {
// gRPC shuts itself down when its last channel or server goes, on a thread of its own; a
// process that returns from main meanwhile races that thread (ASan saw a double free in
// grpc_cq_internal_unref). Holding one reference here and dropping it with the blocking call
// makes the last shutdown happen on this thread, before exit.
struct GrpcLifetime {
  GrpcLifetime() { grpc_init(); }
  ~GrpcLifetime() { grpc_shutdown_blocking(); }
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
