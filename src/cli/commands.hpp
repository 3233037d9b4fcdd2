#pragma once
// One function a subcommand: each adds itself to the CLI11 app and returns the exit code
// that its callback will set.
#include <CLI/CLI.hpp>

namespace chord::cli {

// Exit codes scripts rely on.
enum Exit : int { ok = 0, failure = 1, usage = 2, not_found = 3, unreachable = 4 };

void add_simulate(CLI::App& app, int& exit_code);

}  // namespace chord::cli
