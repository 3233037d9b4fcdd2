#pragma once
// One function a subcommand: each adds itself to the CLI11 app and sets the exit code from its
// callback.
#include <CLI/CLI.hpp>

#include "chord/result.hpp"
#include "chord/tls.hpp"

namespace chord::cli {

// Exit codes scripts rely on.
enum Exit : int { ok = 0, failure = 1, usage = 2, not_found = 3, unreachable = 4, precondition_failed = 5 };
int exit_code_of(const Error& e);

// --tls-cert, --tls-key, --tls-ca (or $CHORD_TLS_CERT, $CHORD_TLS_KEY, $CHORD_TLS_CA): serve's
// and every client command's.
void tls_options(CLI::App* cmd, TlsFiles& files);

void add_simulate(CLI::App& app, int& exit_code);
void add_serve(CLI::App& app, int& exit_code);
void add_client_commands(CLI::App& app, int& exit_code);
void add_share_commands(CLI::App& app, int& exit_code);
void add_bench_client(CLI::App& app, int& exit_code);
void add_bench_raw(CLI::App& app, int& exit_code);
void add_completion(CLI::App& app, int& exit_code);

}  // namespace chord::cli
